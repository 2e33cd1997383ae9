package bench

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Where the CPU of a benchmark goes, by layer: AttributeCPU reads the output
// of `go tool pprof -traces` and charges each sample to the first frame,
// from the leaf up, that belongs to a category (net/http frames only when
// nothing else matches, so that the SDK's request cloning counts as SDK).
// Allocation and its GC assists count for the code that allocated.

type category struct {
	name string
	re   *regexp.Regexp
}

var categories = []category{
	{"GC (background workers and assists)", regexp.MustCompile(`runtime\.(gcBgMarkWorker|gcAssistAlloc|bgsweep|bgscavenge|gcDrain|markroot|gcStart|gcMarkDone|gcMarkTermination)`)},
	{"fake AWS server (benchmark only)", regexp.MustCompile(`dev/bench\.\(\*(Wire|Fake)|dev/bench\.(wire|Mem)`)},
	{"SDK: SigV4 signing, payload SHA-256", regexp.MustCompile(`aws/signer/|V4SignerAdapter|signRequestMiddleware`)},
	{"SDK: endpoint resolution", regexp.MustCompile(`\(\*resolver\)\.ResolveEndpoint|bindEndpointParams|EndpointParameters|internal/endpoints|smithy-go/endpoints|awsrulesfn`)},
	{"SDK: request serialization", regexp.MustCompile(`awsAwsjson10_serialize|serializeOpDocument|smithy-go/encoding/json|awsjson\.\(\*Protocol\)\.SerializeRequest|ShapeSerializer|smithy-go/document`)},
	{"SDK: response deserialization", regexp.MustCompile(`awsAwsjson10_deserialize|ShapeDeserializer|awsjson.*Deserial|deserializeAttribute|deserializeDocument|deserializeOpDocument|smithy-go/internal/serde|protocol/internal/json`)},
	{"SDK: checksums (CRC32, SQS MD5)", regexp.MustCompile(`crc32|validateMessageChecksum|[cC]hecksum`)},
	{"SDK: building each call's middleware stack", regexp.MustCompile(`add[A-Za-z]*Middlewares?\b|addOperation|addProtocol|Step\)\.(Add|Insert|Swap|Remove)|middleware\.NewStack|orderedIDs|relativeOrder`)},
	{"SDK: context and metadata values", regexp.MustCompile(`WithStackValue|withStackValue|stackValues|Metadata\)\.(Set|Get)|Metadata\.Clone|smithy-go\.\(\*Properties\)`)},
	{"DynamoDB attributevalue", regexp.MustCompile(`feature/dynamodb/attributevalue`)},
	{"DynamoDB expression builder", regexp.MustCompile(`feature/dynamodb/expression`)},
	{"SDK: retryer, user agent, other middleware", regexp.MustCompile(`aws/aws-sdk-go-v2|aws/smithy-go`)},
	{"API Gateway proxy adapter", regexp.MustCompile(`aws-lambda-go-api-proxy`)},
	{"logging (slog)", regexp.MustCompile(`log/slog`)},
	{"ours: httpapi, transfer, dynamo, queue, auth, cache", regexp.MustCompile(`purchase-transfer/internal/(httpapi|transfer|dynamo|queue|auth|directorycache|service)|golang-lru`)},
}

var (
	netHTTP   = category{"net/http (requests, headers) outside the SDK", regexp.MustCompile(`^(net/http|net/textproto|net/url)\.`)}
	harness   = category{"benchmark harness", regexp.MustCompile(`bench_test\.|^testing\.`)}
	sampleRow = regexp.MustCompile(`^\s*([0-9.]+)(s|ms|us|µs|ns)\s+(.*)$`)
)

// Share is a category's part of the samples.
type Share struct {
	Category string
	Percent  float64
}

// AttributeCPU reads `go tool pprof -traces` output.
func AttributeCPU(r io.Reader) ([]Share, error) {
	unit := map[string]float64{"s": 1e9, "ms": 1e6, "us": 1e3, "µs": 1e3, "ns": 1}
	totals := map[string]float64{}
	var all float64
	var value float64
	var frames []string
	flush := func() {
		if len(frames) > 0 {
			c := classify(frames)
			totals[c] += value
			all += value
		}
		frames = nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		if m := sampleRow.FindStringSubmatch(line); m != nil {
			flush()
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return nil, err
			}
			value = v * unit[m[2]]
			frames = append(frames, strings.TrimSuffix(strings.TrimSpace(m[3]), " (inline)"))
			continue
		}
		if frames != nil && strings.TrimSpace(line) != "" {
			frames = append(frames, strings.TrimSuffix(strings.TrimSpace(line), " (inline)"))
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if all == 0 {
		return nil, fmt.Errorf("no samples: feed it `go tool pprof -traces <binary> <profile>`")
	}
	var out []Share
	for c, v := range totals {
		out = append(out, Share{c, 100 * v / all})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Percent > out[j].Percent })
	return out, nil
}

func classify(frames []string) string {
	for _, group := range [][]category{categories, {netHTTP, harness}} {
		for _, f := range frames {
			for _, c := range group {
				if c.re.MatchString(f) {
					return c.name
				}
			}
		}
	}
	return "runtime: scheduler, other"
}
