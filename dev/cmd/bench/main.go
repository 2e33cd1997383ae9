// Command bench measures the service against the budgets of docs/design.md (§Budgets) and
// prints each figure next to its budget or floor: AWS round trips and
// latency on loopback against DynamoDB Local and ElasticMQ, and the real
// bootstraps' cold starts and memory under the Lambda Runtime Interface
// Emulator. It folds in the Go benchmarks' output (handler CPU) and the
// arm64 bootstrap sizes, and rewrites the generated part of
// docs/performance.md. `make bench` runs it with everything it needs; every
// load is bounded in count and time and binds 127.0.0.1 only.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/acme/purchase-transfer/dev/bench"
	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/dev/localaws"
)

func main() {
	micro := flag.String("micro", "", "output of `go test -bench -benchmem` to fold in (handler CPU)")
	microRuns := flag.Int("micro-count", 0, "the -count of those benchmarks")
	dist := flag.String("dist", "dist", "folder of the arm64 bootstraps (`make build`) whose sizes to report")
	rie := flag.String("rie", "", "aws-lambda-rie binary; empty skips the Lambda measurements")
	hostDist := flag.String("bootstraps", "", "folder of the bootstraps built for this machine (`make build LAMBDA_ARCH=<host> DIST=...`), run under RIE")
	out := flag.String("out", "", "markdown document whose generated part to rewrite (docs/performance.md)")
	raw := flag.String("json", "", "file to save the raw results to")
	quick := flag.Bool("quick", false, "a small load, to try the command out")
	commands := flag.String("commands", "make bench", "the commands to list in the document, separated by ';'")
	spread := flag.String("spread", "", "glob of earlier raw results (-json) whose spread, with this run's, goes to the document")
	spreadRuns := flag.Int("spread-runs", 5, "how many of the latest runs the spread covers")
	attribute := flag.String("attribute", "", "instead of measuring: read `go tool pprof -traces` output from this file (- for stdin) and print where the CPU goes, by layer")
	lambdaEnv := flag.String("lambda-env", "", "K=V,... added to the functions' environment under RIE (to try e.g. GOGC)")
	flag.Parse()
	if *attribute != "" {
		if err := attributeCPU(*attribute); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}

	// The service logs every refusal and finalization at info level.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{*micro, *microRuns, *dist, *rie, *hostDist, *out, *raw, *quick, strings.Split(*commands, ";"), *spread, *spreadRuns, *lambdaEnv}); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	micro      string
	microRuns  int
	dist       string
	rie        string
	hostDist   string
	out        string
	raw        string
	quick      bool
	commands   []string
	spread     string
	spreadRuns int
	lambdaEnv  string
}

func run(ctx context.Context, c config) error {
	res := bench.Results{When: time.Now(), Machine: machine(), MicroRuns: c.microRuns}
	if c.micro != "" {
		f, err := os.Open(c.micro)
		if err != nil {
			return err
		}
		res.Micro, err = bench.ParseMicro(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	var err error
	if res.Sizes, err = sizes(c.dist); err != nil {
		return err
	}

	load, lambdas := bench.DefaultLoad, bench.DefaultLambdas
	if c.quick {
		load = bench.LoadOptions{Levels: []int{1, 4}, Requests: 60, PhaseLimit: 10 * time.Second, Finalized: 20, Warmup: 10, Renewals: 20, LiveChecks: 10}
		lambdas = bench.LambdaOptions{ColdStarts: 2, Invokes: 30}
	}
	work, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	lambdas.LogDir = work
	lambdas.RIE = c.rie
	if c.rie != "" {
		// The runner starts RIE in the bootstrap's folder.
		if lambdas.RIE, err = filepath.Abs(c.rie); err != nil {
			return err
		}
		if c.hostDist, err = filepath.Abs(c.hostDist); err != nil {
			return err
		}
		if c.lambdaEnv != "" {
			res.LambdaEnv = c.lambdaEnv
			lambdas.Env = map[string]string{}
			for _, kv := range strings.Split(c.lambdaEnv, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("-lambda-env: %q is not K=V", kv)
				}
				lambdas.Env[k] = v
			}
		}
		lambdas.Bootstraps = map[string]string{}
		for _, f := range []string{"transfer", "status", "processor"} {
			path := filepath.Join(c.hostDist, f, "bootstrap")
			if arch := binaryArch(path); arch != runtime.GOARCH {
				return fmt.Errorf("%s: built for %q, want this machine's %s (make build LAMBDA_ARCH=%s DIST=...)", path, arch, runtime.GOARCH, runtime.GOARCH)
			}
			lambdas.Bootstraps[f] = path
		}
	}

	step("starting DynamoDB Local and ElasticMQ")
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	stack, err := localaws.Start(startCtx, emulator.Options{LogDir: filepath.Join(work, "emulators")})
	cancel()
	if err != nil {
		return err
	}
	defer stack.Stop()

	purchases := load.Purchases()
	if c.rie != "" {
		purchases += lambdas.Purchases()
	}
	step("seeding %d purchases", purchases)
	env, err := bench.NewEnv(ctx, stack, purchases)
	if err != nil {
		return err
	}
	defer env.Close()

	res.LoadAvg[0] = loadAvg()
	step("round trips, then loopback latency at concurrency %v (%d requests of each kind per level)", load.Levels, load.Requests)
	lr, err := env.Load(ctx, load)
	if err != nil {
		return err
	}
	res.Load = &lr
	if c.rie != "" {
		step("cold starts (%d per function) and %d serialized invokes per function under RIE", lambdas.ColdStarts, lambdas.Invokes)
		if res.Lambdas, err = env.Lambdas(ctx, lambdas); err != nil {
			return err
		}
	}

	res.LoadAvg[1] = loadAvg()

	fmt.Println()
	if err := bench.WriteTable(os.Stdout, res.Rows()); err != nil {
		return err
	}
	if c.raw != "" {
		if err := save(c.raw, res); err != nil {
			return err
		}
		step("raw results saved to %s", c.raw)
	}
	var runs []bench.Results
	if c.spread != "" {
		if runs, err = latestRuns(c.spread, c.spreadRuns); err != nil {
			return err
		}
		fmt.Printf("\nSPREAD OVER THE LAST %d RUNS (min / median / max)\n", len(runs))
		if err := bench.WriteTable(os.Stdout, bench.Spread(runs)); err != nil {
			return err
		}
	}
	if c.out != "" {
		if err := bench.UpdateDoc(c.out, "bench", res.Markdown(c.commands)); err != nil {
			return err
		}
		if len(runs) > 0 {
			if err := bench.UpdateDoc(c.out, "bench-spread", bench.SpreadMarkdown(runs)); err != nil {
				return err
			}
		}
		step("%s updated", c.out)
	}
	return nil
}

// latestRuns reads the newest n raw results matching glob (names sort by
// time), this run's own file included once saved.
func latestRuns(glob string, n int) ([]bench.Results, error) {
	paths, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	if len(paths) > n {
		paths = paths[len(paths)-n:]
	}
	var runs []bench.Results
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r bench.Results
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// sizes lists dist/<function>/bootstrap, skipping a missing folder.
func sizes(dist string) ([]bench.Size, error) {
	if dist == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dist)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []bench.Size
	for _, e := range entries {
		path := filepath.Join(dist, e.Name(), "bootstrap")
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		out = append(out, bench.Size{Function: e.Name(), Arch: binaryArch(path), Bytes: st.Size()})
	}
	return out, nil
}

// binaryArch reads the machine of an ELF binary.
func binaryArch(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr[:4]) != "\x7fELF" {
		return "?"
	}
	switch uint16(hdr[18]) | uint16(hdr[19])<<8 {
	case 0xB7:
		return "arm64"
	case 0x3E:
		return "amd64"
	}
	return "?"
}

// machine describes this machine for the report.
func machine() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s/%s, %s, shared with other engineers' test runs",
		runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func save(path string, res bench.Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func attributeCPU(path string) error {
	in := os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	shares, err := bench.AttributeCPU(in)
	if err != nil {
		return err
	}
	for _, s := range shares {
		fmt.Printf("%5.1f%%  %s\n", s.Percent, s.Category)
	}
	return nil
}
