package bench

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Wire is an aws.HTTPClient that answers DynamoDB and SQS requests in
// process, in their JSON wire format, from a FakeDynamo. Set as the SDK's
// HTTPClient it keeps everything the real clients do (endpoint resolution,
// serialization, SigV4 signing, retries middleware, response checksums and
// deserialization) and removes only the network and the server.
//
// Reads are answered from a cache keyed by the request body, so after the
// first repetition the fake costs a map lookup: the benchmark measures the
// client side, not the fake.
type Wire struct {
	DB *FakeDynamo

	mu    sync.RWMutex
	cache map[string][]byte
	ids   atomic.Int64
}

// NewWire serves db.
func NewWire(db *FakeDynamo) *Wire { return &Wire{DB: db, cache: map[string][]byte{}} }

// Do implements aws.HTTPClient.
func (w *Wire) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	_ = req.Body.Close()
	target := req.Header.Get("X-Amz-Target")
	var out []byte
	switch target {
	case "DynamoDB_20120810.GetItem", "DynamoDB_20120810.BatchGetItem":
		out, err = w.cachedRead(target, body)
	case "DynamoDB_20120810.TransactWriteItems", "DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.PutItem":
		out = []byte("{}")
	case "AmazonSQS.SendMessage":
		out, err = w.sendMessage(body)
	default:
		return nil, fmt.Errorf("wire: %q is not faked", target)
	}
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", "bench")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(out)), 10))
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(out)), ContentLength: int64(len(out)), Request: req,
	}, nil
}

func (w *Wire) cachedRead(target string, body []byte) ([]byte, error) {
	w.mu.RLock()
	out, ok := w.cache[string(body)]
	w.mu.RUnlock()
	if ok {
		return out, nil
	}
	var err error
	if target == "DynamoDB_20120810.GetItem" {
		out, err = w.getItem(body)
	} else {
		out, err = w.batchGetItem(body)
	}
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.cache[string(body)] = out
	w.mu.Unlock()
	return out, nil
}

// wireKey is a key as sent: {"pk": {"S": "..."}, "sk": {"S": "..."}}.
type wireKey map[string]map[string]string

func (k wireKey) av() map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(k))
	for name, v := range k {
		out[name] = &types.AttributeValueMemberS{Value: v["S"]}
	}
	return out
}

func (w *Wire) getItem(body []byte) ([]byte, error) {
	var in struct{ Key wireKey }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	item := w.DB.get(in.Key.av())
	if item == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]any{"Item": wireItem(item)})
}

func (w *Wire) batchGetItem(body []byte) ([]byte, error) {
	var in struct {
		RequestItems map[string]struct{ Keys []wireKey }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	responses := map[string][]any{}
	for table, ka := range in.RequestItems {
		found := []any{}
		for _, k := range ka.Keys {
			if item := w.DB.get(k.av()); item != nil {
				found = append(found, wireItem(item))
			}
		}
		responses[table] = found
	}
	return json.Marshal(map[string]any{"Responses": responses, "UnprocessedKeys": map[string]any{}})
}

func (w *Wire) sendMessage(body []byte) ([]byte, error) {
	var in struct{ MessageBody string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	sum := md5.Sum([]byte(in.MessageBody))
	return json.Marshal(map[string]string{
		"MD5OfMessageBody": hex.EncodeToString(sum[:]),
		"MessageId":        strconv.FormatInt(w.ids.Add(1), 10),
	})
}

// wireItem is an item in DynamoDB's JSON.
func wireItem(item map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(item))
	for k, v := range item {
		out[k] = wireValue(v)
	}
	return out
}

func wireValue(v types.AttributeValue) map[string]any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = wireValue(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": wireItem(v.Value)}
	}
	panic(fmt.Sprintf("wire: attribute type %T is not faked", v))
}
