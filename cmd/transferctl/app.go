package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/runenv"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const defaultLocalFile = runenv.DefaultPath

// Settings, by the names .local/run.env uses for them.
const (
	settingTable       = "TABLE_NAME"
	settingTransferQ   = "TRANSFER_QUEUE_URL"
	settingTransferDLQ = "TRANSFER_DLQ_URL"
	settingAPIURL      = "API_URL"
	settingPublisher   = "PUBLISHER_ID"
	// The Secrets Manager secret of the HS256 key (token), by name.
	settingJWTSecretID = "JWT_HS256_SECRET_ID"
)

// stackOutputs maps the outputs of template.yaml to settings. A new output a
// command needs is one line here.
var stackOutputs = map[string]string{
	"TableName":                  settingTable,
	"TransferQueueUrl":           settingTransferQ,
	"TransferDeadLetterQueueUrl": settingTransferDLQ,
	"ApiUrl":                     settingAPIURL,
	"WebhookQueueUrl":            settingWebhookQ,
	"WebhookDeadLetterQueueUrl":  settingWebhookDLQ,
}

// stackParameters maps the parameters of template.yaml to settings: the
// secrets' names, whose values transferctl reads from Secrets Manager as
// the functions do.
var stackParameters = map[string]string{
	"JwtHs256SecretId":          settingJWTSecretID,
	"WebhookSealingKeySecretId": settingSealingKeyID,
}

// app is one run of the program: its output, its global flags, and the
// connection to AWS, made on first use so that --help needs no credentials.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string

	localFile  string
	stackName  string
	jsonOutput bool
	// tokenOnly (--quiet of the commands that issue a token) prints the token alone.
	tokenOnly bool

	conn *connection
}

func newApp(stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdout: stdout, stderr: stderr, getenv: getenv}
}

// connection is where the service's data is and the clients that reach it.
type connection struct {
	settings map[string]string
	getenv   func(string) string
	source   string
	db       *dynamodb.Client
	sqs      *sqs.Client
	sm       *secretsmanager.Client
	aws      aws.Config
}

// setting is a value from --local's file or --stack's outputs, else from the
// environment.
func (c *connection) setting(name string) string {
	if v := c.settings[name]; v != "" {
		return v
	}
	return c.getenv(name)
}

// require is a setting that must be present.
func (c *connection) require(name string) (string, error) {
	if v := c.setting(name); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s is not known from %s: use --local, --stack NAME, or set %s", name, c.source, name)
}

// stores are the DynamoDB adapter's stores transferctl works through.
type stores struct {
	operator   *dynamo.OperatorStore
	syncs      *dynamo.SyncReader
	endpoints  *dynamo.EndpointStore
	deliveries *dynamo.DeliveryStore
}

// store is the DynamoDB adapter on the service's table.
func (c *connection) store() (*stores, error) {
	name, err := c.require(settingTable)
	if err != nil {
		return nil, err
	}
	t := dynamo.NewTable(c.db, name)
	return &stores{
		operator:   dynamo.NewOperatorStore(t),
		syncs:      dynamo.NewSyncReader(t),
		endpoints:  dynamo.NewEndpointStore(t),
		deliveries: dynamo.NewDeliveryStore(t),
	}, nil
}

// connect resolves where the service is and builds the AWS clients.
func (a *app) connect(ctx context.Context) (*connection, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	if a.localFile != "" && a.stackName != "" {
		return nil, usage("--local and --stack exclude each other")
	}
	c := &connection{settings: map[string]string{}, getenv: a.getenv, source: "the environment"}
	var opts []func(*config.LoadOptions) error
	// The SDK's own variables, as its default configuration resolves them.
	endpoints := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":        cmp.Or(a.getenv("AWS_ENDPOINT_URL_DYNAMODB"), a.getenv("AWS_ENDPOINT_URL")),
		"AWS_ENDPOINT_URL_SQS":             cmp.Or(a.getenv("AWS_ENDPOINT_URL_SQS"), a.getenv("AWS_ENDPOINT_URL")),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": cmp.Or(a.getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER"), a.getenv("AWS_ENDPOINT_URL")),
	}
	if a.localFile != "" {
		env, err := runenv.Read(a.localFile)
		if err != nil {
			return nil, fmt.Errorf("%w (is `make run` running?)", err)
		}
		c.settings, c.source = env, a.localFile
		// The emulators take any credentials; the file names the ones to use,
		// so no profile or SSO session is needed.
		opts = append(opts, config.WithRegion(env["AWS_REGION"]),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], "")))
		endpoints = env
	}
	// An operator's bulk import may meet throttling a request path never
	// does; the SDK's retryer is more patient here than its default of 3.
	opts = append(opts, config.WithRetryMaxAttempts(10))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	c.aws = cfg
	c.db = dynamo.NewClient(cfg, endpoints["AWS_ENDPOINT_URL_DYNAMODB"])
	c.sqs = queue.NewClient(cfg, endpoints["AWS_ENDPOINT_URL_SQS"])
	c.sm = secrets.NewClient(cfg, endpoints["AWS_ENDPOINT_URL_SECRETS_MANAGER"])
	if a.stackName != "" {
		outputs, err := stackSettings(ctx, cloudformation.NewFromConfig(cfg), a.stackName)
		if err != nil {
			return nil, err
		}
		c.settings, c.source = outputs, "stack "+a.stackName
	}
	a.conn = c
	return c, nil
}

// stackDescriber is what --stack uses of CloudFormation.
type stackDescriber interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// stackSettings reads a stack's outputs as settings.
func stackSettings(ctx context.Context, cf stackDescriber, name string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %s not found", name)
	}
	settings := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		if key, ok := stackOutputs[aws.ToString(o.OutputKey)]; ok {
			settings[key] = aws.ToString(o.OutputValue)
		}
	}
	for _, p := range out.Stacks[0].Parameters {
		if key, ok := stackParameters[aws.ToString(p.ParameterKey)]; ok {
			settings[key] = aws.ToString(p.ParameterValue)
		}
	}
	return settings, nil
}

// secretKey reads the current key of the secret the setting names, from
// Secrets Manager, checked by decode (the functions' rule for that key).
func (c *connection) secretKey(ctx context.Context, setting string, decode secrets.Decode) ([]byte, error) {
	id, err := c.require(setting)
	if err != nil {
		return nil, err
	}
	keys := secrets.New(c.sm, id, decode)
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	current, err := keys.Current(ctx)
	if err != nil {
		return nil, err
	}
	return current[0], nil
}

// publisherFlag adds --publisher to a command that works within one
// publisher; it defaults to PUBLISHER_ID (the demo publisher with --local).
func (a *app) publisherFlag(cmd *cobra.Command, into *int64) {
	cmd.Flags().Int64Var(into, "publisher", 0, "publisher `ID` (default: PUBLISHER_ID from --local or the environment)")
}

// publisher resolves the --publisher flag.
func (a *app) publisher(ctx context.Context, flag int64) (transfer.PublisherID, error) {
	if flag < 0 {
		return 0, usage("--publisher must be a positive id")
	}
	if flag > 0 {
		return transfer.PublisherID(flag), nil
	}
	c, err := a.connect(ctx)
	if err != nil {
		return 0, err
	}
	v := c.setting(settingPublisher)
	if v == "" {
		return 0, usage("--publisher is required (or set PUBLISHER_ID)")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, usage("PUBLISHER_ID %q is not a positive id", v)
	}
	return transfer.PublisherID(id), nil
}

// positiveID parses an id given as an argument.
func positiveID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usage("%s must be a positive integer, got %q", what, s)
	}
	return id, nil
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table starts aligned columns on stdout; Flush it when done.
func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
}

// out prints a line of human output.
func (a *app) out(format string, args ...any) {
	fmt.Fprintf(a.stdout, format+"\n", args...)
}
