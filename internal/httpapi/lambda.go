package httpapi

import (
	"context"
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
		return adapter.ProxyWithContext(context.WithValue(ctx, rawHeadersKey{}, event.Headers), event)
	}
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
