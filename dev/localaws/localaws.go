// Package localaws runs the service's AWS dependencies on this machine:
// DynamoDB Local and ElasticMQ, with the table and queues of template.yaml,
// and moto's server as Secrets Manager.
// The local runner, the integration tests and the Lambda emulator tests all
// stand on it.
package localaws

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/samtemplate"
)

// Logical ids of the template's resources the service uses.
const (
	TableID            = "TransfersTable"
	TransferQueueID    = "TransferQueue"
	TransferDLQID      = "TransferDeadLetterQueue"
	Region             = "us-east-1"
	dummyAccessKeyID   = "local"
	dummySecretKey     = "local"
	tableReadyDeadline = 30 * time.Second
)

// Stack is a running DynamoDB Local, ElasticMQ and moto (Secrets Manager).
type Stack struct {
	// DynamoDB, SQS and SecretsManager are the emulators Start started; nil
	// after Connect.
	DynamoDB       *emulator.Server
	SQS            *emulator.Server
	SecretsManager *emulator.Server
	Template       *samtemplate.Template
	Clients        inprocess.Clients
	endpoints      inprocess.Endpoints
}

// FunctionTimeouts are the template's function Timeouts, by logical id: the
// deadline Lambda gives each invocation of the function.
func (s *Stack) FunctionTimeouts() map[string]time.Duration {
	t := make(map[string]time.Duration, len(s.Template.Functions))
	for _, f := range s.Template.Functions {
		t[f.LogicalID] = time.Duration(f.TimeoutSeconds) * time.Second
	}
	return t
}

// Start starts the emulators, ElasticMQ with the template's queues declared
// in its configuration (under their logical ids), moto meanwhile.
func Start(ctx context.Context, opt emulator.Options) (*Stack, error) {
	tpl, err := loadTemplate()
	if err != nil {
		return nil, err
	}
	queues := make([]emulator.Queue, len(tpl.Queues))
	for i, q := range tpl.Queues {
		queues[i] = emulator.Queue{
			Name:                     q.LogicalID,
			VisibilityTimeoutSeconds: q.VisibilityTimeoutSeconds,
			DelaySeconds:             q.DelaySeconds,
			DeadLetterQueue:          q.DeadLetterQueue,
			MaxReceiveCount:          q.MaxReceiveCount,
		}
	}

	var (
		sm    *emulator.Server
		smErr error
	)
	motoDone := make(chan struct{})
	go func() {
		defer close(motoDone)
		sm, smErr = emulator.StartMoto(ctx, opt)
	}()
	db, mq, err := emulator.Start(ctx, opt, queues)
	<-motoDone
	if err := errors.Join(err, smErr); err != nil {
		return nil, errors.Join(err, db.Stop(), mq.Stop(), sm.Stop())
	}
	st := newStack(tpl, db, mq, inprocess.Endpoints{DynamoDB: db.Endpoint, SQS: mq.Endpoint, SecretsManager: sm.Endpoint})
	st.SecretsManager = sm
	return st, nil
}

// Connect uses a DynamoDB, an SQS and a Secrets Manager that already run,
// such as DynamoDB Local, ElasticMQ and moto in Docker for `sam local`,
// instead of starting them.
func Connect(endpoints inprocess.Endpoints) (*Stack, error) {
	tpl, err := loadTemplate()
	if err != nil {
		return nil, err
	}
	return newStack(tpl, nil, nil, endpoints), nil
}

func newStack(tpl *samtemplate.Template, db, mq *emulator.Server, e inprocess.Endpoints) *Stack {
	st := &Stack{DynamoDB: db, SQS: mq, Template: tpl, endpoints: e}
	st.Clients = inprocess.NewClients(st.AWSConfig(), e)
	return st
}

func loadTemplate() (*samtemplate.Template, error) {
	path, err := samtemplate.FindTemplate()
	if err != nil {
		return nil, err
	}
	return samtemplate.Load(path)
}

// Stop stops the emulators, if Start started them.
func (s *Stack) Stop() error {
	return errors.Join(s.DynamoDB.Stop(), s.SQS.Stop(), s.SecretsManager.Stop())
}

// Endpoints are the emulators' endpoints.
func (s *Stack) Endpoints() inprocess.Endpoints {
	return s.endpoints
}

// AWSConfig is an SDK configuration with dummy credentials: the emulators
// accept any.
func (s *Stack) AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(dummyAccessKeyID, dummySecretKey, ""),
	}
}

// Env is what a process needs in its environment to reach the emulators
// with the AWS SDK or CLI.
func (s *Stack) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": s.endpoints.DynamoDB,
		"AWS_ENDPOINT_URL_SQS":      s.endpoints.SQS,
		// The SDK's name for Secrets Manager's variable (its service id,
		// "Secrets Manager", upper-cased with _ for the space).
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": s.endpoints.SecretsManager,
		"AWS_REGION":                       Region,
		"AWS_ACCESS_KEY_ID":                dummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":            dummySecretKey,
	}
}

// PutSecret gives the secret name the value, creating the secret or adding
// a version (which becomes AWSCURRENT, the one before AWSPREVIOUS): a
// rotation, as Secrets Manager makes it.
func (s *Stack) PutSecret(ctx context.Context, name, value string) error {
	_, err := s.Clients.SecretsManager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: &value})
	var notFound *smtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		_, err = s.Clients.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	}
	if err != nil {
		return fmt.Errorf("put secret %s: %w", name, err)
	}
	return nil
}

// Resources are one set of the template's table and queues.
type Resources struct {
	Table     string
	QueueURLs map[string]string // by logical id
}

// TransferQueueURL is the URL of the transfer queue.
func (r Resources) TransferQueueURL() string { return r.QueueURLs[TransferQueueID] }

// TransferDLQURL is the URL of the transfer dead-letter queue.
func (r Resources) TransferDLQURL() string { return r.QueueURLs[TransferDLQID] }

// DefaultResources creates the table under its logical id and returns the
// queues declared in ElasticMQ's configuration; after Connect, it creates the
// queues too (again harmlessly when they exist).
func (s *Stack) DefaultResources(ctx context.Context) (Resources, error) {
	if s.SQS == nil {
		return s.createResources(ctx, "")
	}
	r := Resources{Table: TableID, QueueURLs: map[string]string{}}
	if err := s.createTables(ctx, ""); err != nil {
		return r, err
	}
	for _, q := range s.Template.Queues {
		r.QueueURLs[q.LogicalID] = s.SQS.QueueURL(q.LogicalID)
	}
	return r, nil
}

// ResourceOption adjusts isolated resources, for tests that must not wait
// for production timeouts.
type ResourceOption func(map[string]*samtemplate.Queue)

// WithQueueOverride sets a queue's visibility timeout and, when it has a
// dead-letter queue, its maxReceiveCount.
func WithQueueOverride(logicalID string, visibilitySeconds, maxReceiveCount int) ResourceOption {
	return func(qs map[string]*samtemplate.Queue) {
		if q, ok := qs[logicalID]; ok {
			q.VisibilityTimeoutSeconds = visibilitySeconds
			if q.DeadLetterQueue != "" {
				q.MaxReceiveCount = maxReceiveCount
			}
		}
	}
}

// IsolatedResources creates a fresh copy of the table and queues under
// unique names, so that tests sharing one Stack never see each other's data.
func (s *Stack) IsolatedResources(ctx context.Context, opts ...ResourceOption) (Resources, error) {
	return s.createResources(ctx, "-"+strings.ToLower(rand.Text()[:10]), opts...)
}

// createResources creates the template's tables and queues, suffix appended
// to their logical ids.
func (s *Stack) createResources(ctx context.Context, suffix string, opts ...ResourceOption) (Resources, error) {
	r := Resources{Table: TableID + suffix, QueueURLs: map[string]string{}}
	if err := s.createTables(ctx, suffix); err != nil {
		return r, err
	}
	// Dead-letter queues first: a redrive policy names an existing queue.
	byID := map[string]*samtemplate.Queue{}
	for _, q := range s.Template.Queues {
		byID[q.LogicalID] = &q
	}
	for _, o := range opts {
		o(byID)
	}
	ordered := make([]samtemplate.Queue, 0, len(byID))
	for _, q := range byID {
		q := *q
		if q.DeadLetterQueue == "" {
			ordered = append([]samtemplate.Queue{q}, ordered...)
		} else {
			ordered = append(ordered, q)
		}
	}
	arns := map[string]string{}
	for _, q := range ordered {
		attrs := map[string]string{
			string(sqstypes.QueueAttributeNameVisibilityTimeout): strconv.Itoa(q.VisibilityTimeoutSeconds),
			string(sqstypes.QueueAttributeNameDelaySeconds):      strconv.Itoa(q.DelaySeconds),
		}
		if q.DeadLetterQueue != "" {
			attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = fmt.Sprintf(
				`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, arns[q.DeadLetterQueue], q.MaxReceiveCount)
		}
		out, err := s.Clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.LogicalID + suffix), Attributes: attrs})
		if err != nil {
			return r, fmt.Errorf("create queue %s: %w", q.LogicalID, err)
		}
		r.QueueURLs[q.LogicalID] = aws.ToString(out.QueueUrl)
		got, err := s.Clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return r, fmt.Errorf("queue arn %s: %w", q.LogicalID, err)
		}
		arns[q.LogicalID] = got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	}
	return r, nil
}

func (s *Stack) createTables(ctx context.Context, suffix string) error {
	for _, t := range s.Template.Tables {
		name := t.LogicalID + suffix
		if _, err := s.Clients.DynamoDB.CreateTable(ctx, t.CreateInput(name)); err != nil {
			var exists *dbtypes.ResourceInUseException
			if !errors.As(err, &exists) {
				return fmt.Errorf("create table %s: %w", name, err)
			}
		}
		waiter := dynamodb.NewTableExistsWaiter(s.Clients.DynamoDB, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay = 20 * time.Millisecond
			o.MaxDelay = 200 * time.Millisecond
		})
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, tableReadyDeadline); err != nil {
			return fmt.Errorf("table %s not active: %w", name, err)
		}
		if t.TTLAttribute != "" {
			_, err := s.Clients.DynamoDB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName:               &name,
				TimeToLiveSpecification: &dbtypes.TimeToLiveSpecification{AttributeName: &t.TTLAttribute, Enabled: aws.Bool(true)},
			})
			if err != nil && !strings.Contains(err.Error(), "already enabled") {
				return fmt.Errorf("enable TTL on %s: %w", name, err)
			}
		}
	}
	return nil
}
