package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// LambdaHandler adapts an http.Handler to API Gateway HTTP API (payload 2.0)
// events. basePath, when the API is published under a prefix, is stripped
// before routing.
func LambdaHandler(h http.Handler, basePath string) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	adapter := httpadapter.NewV2(h)
	adapter.StripBasePath(basePath)
	return func(ctx context.Context, event events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		event.RawPath = escapeRawPath(event.RawPath)
		return adapter.ProxyWithContext(context.WithValue(ctx, rawHeadersKey{}, event.Headers), event)
	}
}

// escapeRawPath percent-encodes what a path as sent may hold but a URL path
// may not: '#' and '?' (API Gateway has already cut the query off, so they
// are the path's own), a '%' that starts no escape, and bytes that are not
// visible ASCII. Without it the proxy cannot parse such a path into a
// request and the function fails as a whole, an undocumented 5xx; with it
// the router sees the path and answers as it answers any other (REQ0003 for
// such a synchronizationId). Valid escapes are left as sent.
func escapeRawPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			b.WriteByte(c)
		case c == '%' || c == '#' || c == '?' || c < 0x21 || c > 0x7e:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

type rawHeadersKey struct{}

// rawHeaderValues reads a header from the API Gateway event as sent, when the
// request came through LambdaHandler. API Gateway joins repeated headers with
// commas, so one raw value is one header line as far as we can know.
func rawHeaderValues(ctx context.Context, name string) ([]string, bool) {
	headers, ok := ctx.Value(rawHeadersKey{}).(map[string]string)
	if !ok {
		return nil, false
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return []string{v}, true
		}
	}
	return nil, true
}
