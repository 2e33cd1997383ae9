// Package testkit is what every test harness shares: the local stack started
// once per test binary (RunWithStack), an API client that decodes the
// answers (Do), and polling with a deadline (Eventually, WaitFinalized).
package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Response is a decoded HTTP answer of the API.
type Response struct {
	Status int
	Header http.Header
	// Body is the JSON body decoded as an object (nil when it is not one).
	Body map[string]any
	Raw  string
}

// Do sends one request to baseURL+path, failing the test if it cannot be sent.
func Do(t testing.TB, baseURL, method, path string, headers map[string]string, body string) Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, baseURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}
