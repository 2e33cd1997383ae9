package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the README.
const (
	exitOK = 0
	// exitFailed: the command could not do what was asked.
	exitFailed = 1
	// exitUsage: the command line itself is wrong.
	exitUsage = 2
	// exitPartial: the command did its work but skipped some input (an
	// import with invalid lines).
	exitPartial = 3
)

// run is the whole program: it runs the command args name and returns the
// exit code. Tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := newApp(stdout, stderr, os.Getenv)
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return a.exitCode(err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "transferctl",
		Short: "Operate the purchase transfer service",
		Long: `transferctl manages what the purchase transfer service knows: publishers and
their tokens, customers and purchases (bulk import), webhook endpoints, and
the dead-letter queues; and it shows purchases and synchronizations.

Where the service is:
  --local[=FILE]   the stack of ` + "`make run`" + ` (reads .local/run.env)
  --stack NAME     a deployed CloudFormation stack (reads its outputs)
  otherwise        the environment: TABLE_NAME, TRANSFER_QUEUE_URL, ...
                   (the names of .local/run.env)
AWS credentials, region and AWS_ENDPOINT_URL_* come from the AWS SDK's
default configuration (environment, profiles, SSO).`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.localFile, "local", "", "use the local stack that make run started, described in `FILE`")
	pf.Lookup("local").NoOptDefVal = defaultLocalFile
	pf.StringVar(&a.stackName, "stack", "", "use the deployed CloudFormation stack `NAME`")
	pf.BoolVar(&a.jsonOutput, "json", false, "print JSON instead of tables")
	// The whole command tree; each group is built in its own file. A
	// command reaches AWS through a.connect(ctx), prints with a.out / a.table
	// / a.printJSON (honouring --json), and returns usage(...) for a bad
	// command line.
	root.AddCommand(
		newPublisherCommand(a),
		newImportCommand(a),
		newPurchaseCommand(a),
		newCustomerCommand(a),
		newSyncCommand(a),
		newWebhookCommand(a),
		newDLQCommand(a),
		newTokenCommand(a),
		newAppleCommand(a),
	)
	return root
}

// usageError is a wrong command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usage(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// partialError means the work was done but some input was skipped: exit 3.
type partialError struct{ msg string }

func (e *partialError) Error() string { return e.msg }

func (a *app) exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(a.stderr, "transferctl:", err)
	var ue *usageError
	var pe *partialError
	switch {
	case errors.As(err, &ue), isCobraUsage(err):
		fmt.Fprintln(a.stderr, "Run 'transferctl help' or add --help to a command for usage.")
		return exitUsage
	case errors.As(err, &pe):
		return exitPartial
	default:
		return exitFailed
	}
}

// isCobraUsage recognizes the errors cobra returns for an unknown command
// or a wrong number of arguments, which it reports as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// args checks the number of positional arguments, naming them in the error.
func args(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, got []string) error {
		if len(got) != len(names) {
			return usage("expected %d argument(s) (%s), got %d", len(names), strings.Join(names, " "), len(got))
		}
		return nil
	}
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return c.Help()
		}}
	c.AddCommand(subs...)
	return c
}
