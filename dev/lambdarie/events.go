package lambdarie

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// HTTPRequest is what a client sends to the API, as API Gateway routes it.
type HTTPRequest struct {
	Method string
	// Path is the request's path as the client sent it, base path included.
	Path     string
	RawQuery string
	// Route is the route's path as declared in API Gateway, e.g.
	// "/storekit2/purchases/synchronizations/{synchronizationId+}"; behind a
	// custom domain's API mapping it lacks the mapping's base path.
	Route          string
	PathParameters map[string]string
	Headers        map[string]string
	Body           string
	// Base64 sends the body base64-encoded, as API Gateway does for a body
	// it does not take for text.
	Base64 bool
}

// Fixed parts of the events, as one API and one account would send them.
const (
	accountID = "123456789012"
	apiID     = "a1b2c3d4e5"
	region    = "us-east-1"
)

// APIGatewayEvent is the HTTP API (payload 2.0) event API Gateway sends for r
// on the $default stage: header names in lower case, API Gateway's own
// headers added, repeated headers not possible (API Gateway joins them).
func APIGatewayEvent(r HTTPRequest, now time.Time) events.APIGatewayV2HTTPRequest {
	domain := apiID + ".execute-api." + region + ".amazonaws.com"
	headers := map[string]string{
		"host":              domain,
		"user-agent":        "lambdarie/1.0",
		"x-amzn-trace-id":   "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + strings.ToLower(rand.Text()[:24]),
		"x-forwarded-for":   "203.0.113.10",
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	for k, v := range r.Headers {
		headers[strings.ToLower(k)] = v
	}
	body := r.Body
	if body != "" {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	if r.Base64 {
		body = base64.StdEncoding.EncodeToString([]byte(body))
	}
	var query map[string]string
	if values, err := url.ParseQuery(r.RawQuery); err == nil && len(values) > 0 {
		query = map[string]string{}
		for k, v := range values {
			query[k] = strings.Join(v, ",") // repeated parameters, joined as API Gateway does
		}
	}
	routeKey := r.Method + " " + r.Route
	return events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.Path,
		RawQueryString:        r.RawQuery,
		QueryStringParameters: query,
		Headers:               headers,
		PathParameters:        r.PathParameters,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    accountID,
			Stage:        "$default",
			RequestID:    apiGatewayRequestID(),
			APIID:        apiID,
			DomainName:   domain,
			DomainPrefix: apiID,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.Path,
				Protocol:  "HTTP/1.1",
				SourceIP:  "203.0.113.10",
				UserAgent: "lambdarie/1.0",
			},
		},
		Body:            body,
		IsBase64Encoded: r.Base64,
	}
}

// apiGatewayRequestID looks like API Gateway's: 16 characters ending in "=".
func apiGatewayRequestID() string {
	return rand.Text()[:15] + "="
}

// SQSEvent is the event Lambda's SQS event source sends for messages received
// from a queue (with every system attribute).
func SQSEvent(queueARN string, msgs ...sqstypes.Message) events.SQSEvent {
	var ev events.SQSEvent
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId:         deref(m.MessageId),
			ReceiptHandle:     deref(m.ReceiptHandle),
			Body:              deref(m.Body),
			Md5OfBody:         deref(m.MD5OfBody),
			Attributes:        map[string]string{},
			MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource:       "aws:sqs",
			EventSourceARN:    queueARN,
			AWSRegion:         region,
		}
		for k, v := range m.Attributes {
			rec.Attributes[k] = v
		}
		for k, v := range m.MessageAttributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{
				StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: deref(v.DataType)}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
