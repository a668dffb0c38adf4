package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// putReplicationXML sends a raw PutBucketReplication with Content-MD5.
func (e *testEnv) putReplicationXML(bucket, doc string) (*http.Response, []byte) {
	e.t.Helper()
	sum := md5.Sum([]byte(doc))
	hdr := http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}}
	return e.do("PUT", "/"+bucket+"?replication", []byte(doc), hdr)
}

func wantAPIError(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

// TestBucketReplicationRoundTrip puts a V2 configuration with the SDK and
// reads it back: every field the SDK sent comes back, and rules sent
// without an ID get one.
func TestBucketReplicationRoundTrip(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	ctx := t.Context()
	in := &types.ReplicationConfiguration{
		Role: aws.String("arn:aws:iam::123456789012:role/replication"),
		Rules: []types.ReplicationRule{{
			ID:       aws.String("tagged"),
			Priority: aws.Int32(1),
			Status:   types.ReplicationRuleStatusEnabled,
			Filter: &types.ReplicationRuleFilter{And: &types.ReplicationRuleAndOperator{
				Prefix: aws.String("backups/"),
				Tags:   []types.Tag{{Key: aws.String("tier"), Value: aws.String("gold")}, {Key: aws.String("app"), Value: aws.String("db")}},
			}},
			DeleteMarkerReplication:   &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusDisabled},
			ExistingObjectReplication: &types.ExistingObjectReplication{Status: types.ExistingObjectReplicationStatusEnabled},
			Destination: &types.Destination{
				Bucket:       aws.String("arn:aws:s3:::dst"),
				Account:      aws.String("210987654321"),
				StorageClass: types.StorageClassStandardIa,
			},
		}, {
			Priority:                aws.Int32(2),
			Status:                  types.ReplicationRuleStatusDisabled,
			Filter:                  &types.ReplicationRuleFilter{Prefix: aws.String("logs/")},
			DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusEnabled},
			Destination:             &types.Destination{Bucket: aws.String("arn:aws:s3:::dst")},
		}},
	}
	if _, err := e.client.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src"), ReplicationConfiguration: in}); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	if err != nil {
		t.Fatal(err)
	}
	got := out.ReplicationConfiguration
	if aws.ToString(got.Role) != aws.ToString(in.Role) || len(got.Rules) != 2 {
		t.Fatalf("got role %q and %d rules", aws.ToString(got.Role), len(got.Rules))
	}
	r := got.Rules[0]
	switch {
	case aws.ToString(r.ID) != "tagged", aws.ToInt32(r.Priority) != 1, r.Status != types.ReplicationRuleStatusEnabled:
		t.Errorf("rule 0: ID %q priority %d status %s", aws.ToString(r.ID), aws.ToInt32(r.Priority), r.Status)
	case r.Filter == nil || r.Filter.And == nil || aws.ToString(r.Filter.And.Prefix) != "backups/" || len(r.Filter.And.Tags) != 2:
		t.Errorf("rule 0 filter %+v", r.Filter)
	case aws.ToString(r.Filter.And.Tags[0].Key) != "app" || aws.ToString(r.Filter.And.Tags[1].Value) != "gold":
		t.Errorf("rule 0 tags %+v, want app=db and tier=gold in key order", r.Filter.And.Tags)
	case r.DeleteMarkerReplication == nil || r.DeleteMarkerReplication.Status != types.DeleteMarkerReplicationStatusDisabled:
		t.Errorf("rule 0 DeleteMarkerReplication %+v", r.DeleteMarkerReplication)
	case r.ExistingObjectReplication == nil || r.ExistingObjectReplication.Status != types.ExistingObjectReplicationStatusEnabled:
		t.Errorf("rule 0 ExistingObjectReplication %+v", r.ExistingObjectReplication)
	case aws.ToString(r.Destination.Bucket) != "arn:aws:s3:::dst" || aws.ToString(r.Destination.Account) != "210987654321" ||
		r.Destination.StorageClass != types.StorageClassStandardIa:
		t.Errorf("rule 0 destination %+v", r.Destination)
	}
	r = got.Rules[1]
	switch {
	case aws.ToString(r.ID) == "":
		t.Error("rule 1 sent without an ID has none")
	case aws.ToInt32(r.Priority) != 2 || r.Status != types.ReplicationRuleStatusDisabled:
		t.Errorf("rule 1: priority %d status %s", aws.ToInt32(r.Priority), r.Status)
	case r.Filter == nil || aws.ToString(r.Filter.Prefix) != "logs/" || r.Filter.And != nil || r.Filter.Tag != nil:
		t.Errorf("rule 1 filter %+v", r.Filter)
	case r.DeleteMarkerReplication == nil || r.DeleteMarkerReplication.Status != types.DeleteMarkerReplicationStatusEnabled:
		t.Errorf("rule 1 DeleteMarkerReplication %+v", r.DeleteMarkerReplication)
	}
	// What the backend received, in s3api's own types.
	stored := e.fake.buckets["src"].replication.Rules[0]
	if !stored.Filter || stored.Prefix != "backups/" || stored.Tags["tier"] != "gold" || stored.DestinationBucket != "arn:aws:s3:::dst" ||
		stored.DestinationStorageClass != "STANDARD_IA" || !stored.ExistingObjectReplication || stored.DeleteMarkerReplication {
		t.Errorf("backend received %+v", stored)
	}
	// S3's shape: the namespace on the root.
	resp, body := e.do("GET", "/src?replication", nil, nil)
	wantStatus(t, resp, body, 200, "")
	if !contains(body, `<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`) {
		t.Errorf("GetBucketReplication body without S3's namespace: %s", body)
	}
}

// TestBucketReplicationV1 round-trips a V1 rule (top-level Prefix, no
// Filter, Priority or DeleteMarkerReplication).
func TestBucketReplicationV1(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	resp, body := e.putReplicationXML("src", `<ReplicationConfiguration><Role>r</Role><Rule><ID>old</ID><Prefix>a/</Prefix><Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination></Rule></ReplicationConfiguration>`)
	wantStatus(t, resp, body, 200, "")
	out, err := e.client.GetBucketReplication(t.Context(), &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	if err != nil {
		t.Fatal(err)
	}
	r := out.ReplicationConfiguration.Rules[0]
	if aws.ToString(r.Prefix) != "a/" || r.Filter != nil || r.Priority != nil || r.DeleteMarkerReplication != nil {
		t.Errorf("V1 rule came back as %+v", r)
	}
}

func TestDeleteBucketReplication(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	ctx := t.Context()
	_, err := e.client.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	wantAPIError(t, err, "ReplicationConfigurationNotFoundError")
	resp, body := e.putReplicationXML("src", replicationDoc1(replicationRuleV2("r", 1, `<Prefix>p</Prefix>`, "Enabled")))
	wantStatus(t, resp, body, 200, "")
	resp, body = e.do("DELETE", "/src?replication", nil, nil)
	wantStatus(t, resp, body, http.StatusNoContent, "")
	resp, body = e.do("GET", "/src?replication", nil, nil)
	wantStatus(t, resp, body, 404, "ReplicationConfigurationNotFoundError")
	if !contains(body, "The replication configuration was not found") {
		t.Errorf("404 without S3's message: %s", body)
	}
	// Deleting again, with nothing to delete, is still 204, as in S3.
	if _, err := e.client.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String("src")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("missing")})
	wantAPIError(t, err, "NoSuchBucket")
}

func replicationDoc1(rules ...string) string {
	return `<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Role>arn:aws:iam::1:role/r</Role>` +
		strings.Join(rules, "") + `</ReplicationConfiguration>`
}

func replicationRuleV2(id string, priority int, filter, deleteMarkers string) string {
	return fmt.Sprintf(`<Rule><ID>%s</ID><Priority>%d</Priority><Filter>%s</Filter><Status>Enabled</Status>`+
		`<DeleteMarkerReplication><Status>%s</Status></DeleteMarkerReplication>`+
		`<Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination></Rule>`, id, priority, filter, deleteMarkers)
}

// TestPutBucketReplicationValidation sends documents S3 refuses and
// checks each gets S3's status and code.
func TestPutBucketReplicationValidation(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	good := replicationRuleV2("r1", 1, `<Prefix>a/</Prefix>`, "Disabled")
	v1 := `<Rule><ID>old</ID><Prefix>a/</Prefix><Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination></Rule>`
	replaced := func(old, new string) string { return replicationDoc1(strings.Replace(good, old, new, 1)) }
	many := make([]string, 1001)
	for i := range many {
		many[i] = replicationRuleV2(fmt.Sprint("r", i), i, "", "Disabled")
	}
	for _, tc := range []struct {
		name   string
		doc    string
		status int
		code   string
	}{
		{"valid V2", replicationDoc1(good), 200, ""},
		{"valid V1", replicationDoc1(v1), 200, ""},
		{"valid empty filter", replicationDoc1(replicationRuleV2("r", 0, "", "Enabled")), 200, ""},
		{"valid tag filter", replicationDoc1(replicationRuleV2("r", 0, `<Tag><Key>k</Key><Value>v</Value></Tag>`, "Disabled")), 200, ""},
		{"valid 1000 rules", replicationDoc1(many[:1000]...), 200, ""},
		{"empty body", "", 400, "MalformedXML"},
		{"not XML", "<ReplicationConfiguration>", 400, "MalformedXML"},
		{"other root", `<LifecycleConfiguration/>`, 400, "MalformedXML"},
		{"no rules", replicationDoc1(), 400, "MalformedXML"},
		{"1001 rules", replicationDoc1(many...), 400, "InvalidRequest"},
		{"no role", strings.Replace(replicationDoc1(good), "<Role>arn:aws:iam::1:role/r</Role>", "", 1), 400, "MalformedXML"},
		{"unknown element in rule", replaced("<Status>", "<Color>red</Color><Status>"), 400, "MalformedXML"},
		{"unknown element at root", strings.Replace(replicationDoc1(good), "<Role>", "<Owner/><Role>", 1), 400, "MalformedXML"},
		{"text in a container", replaced("<Destination>", "<Destination>x"), 400, "MalformedXML"},
		{"repeated Status", replaced("<Status>Enabled</Status>", "<Status>Enabled</Status><Status>Enabled</Status>"), 400, "MalformedXML"},
		{"ID of 256 characters", replaced("<ID>r1</ID>", "<ID>"+strings.Repeat("i", 256)+"</ID>"), 400, "InvalidArgument"},
		{"duplicate ID", replicationDoc1(good, replicationRuleV2("r1", 2, "", "Disabled")), 400, "InvalidArgument"},
		{"no Status", replaced("<Status>Enabled</Status><DeleteMarkerReplication>", "<DeleteMarkerReplication>"), 400, "MalformedXML"},
		{"bad Status", replaced("<Status>Enabled</Status>", "<Status>On</Status>"), 400, "MalformedXML"},
		{"filter with prefix and tag", replaced("<Prefix>a/</Prefix>", "<Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"), 400, "MalformedXML"},
		{"And with one condition", replaced("<Prefix>a/</Prefix>", "<And><Prefix>a/</Prefix></And>"), 400, "MalformedXML"},
		{"duplicate tag keys", replaced("<Prefix>a/</Prefix>", "<And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And>"), 400, "InvalidRequest"},
		{"tag without value", replaced("<Prefix>a/</Prefix>", "<Tag><Key>k</Key></Tag>"), 400, "MalformedXML"},
		{"V1 and V2 mixed", replicationDoc1(good, v1), 400, "InvalidRequest"},
		{"V1 with priority", replicationDoc1(strings.Replace(v1, "<Status>", "<Priority>1</Priority><Status>", 1)), 400, "InvalidRequest"},
		{"V2 with top-level prefix", replaced("<Filter>", "<Prefix>x</Prefix><Filter>"), 400, "InvalidRequest"},
		{"V2 without priority", replaced("<Priority>1</Priority>", ""), 400, "InvalidRequest"},
		{"duplicate priority", replicationDoc1(good, replicationRuleV2("r2", 1, "", "Disabled")), 400, "InvalidRequest"},
		{"negative priority", replaced("<Priority>1</Priority>", "<Priority>-1</Priority>"), 400, "InvalidRequest"},
		{"priority not a number", replaced("<Priority>1</Priority>", "<Priority>one</Priority>"), 400, "MalformedXML"},
		{"V2 without DeleteMarkerReplication", replaced("<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>", ""), 400, "InvalidRequest"},
		{"delete markers with a tag filter", replicationDoc1(replicationRuleV2("r", 1, `<Tag><Key>k</Key><Value>v</Value></Tag>`, "Enabled")), 400, "InvalidRequest"},
		{"bad DeleteMarkerReplication status", replaced("<Status>Disabled</Status>", "<Status>Yes</Status>"), 400, "MalformedXML"},
		{"no destination", replaced("<Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination>", ""), 400, "MalformedXML"},
		{"no destination bucket", replaced("<Bucket>arn:aws:s3:::dst</Bucket>", "<Account>1</Account>"), 400, "MalformedXML"},
		{"destination not an ARN", replaced("arn:aws:s3:::dst", "dst"), 400, "InvalidArgument"},
		{"bad storage class", replaced("</Bucket>", "</Bucket><StorageClass>FAST</StorageClass>"), 400, "MalformedXML"},
		{"valid storage class", replaced("</Bucket>", "</Bucket><StorageClass>GLACIER</StorageClass>"), 200, ""},
		{"metrics", replaced("</Bucket>", "</Bucket><Metrics><Status>Enabled</Status></Metrics>"), 501, "NotImplemented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.putReplicationXML("src", tc.doc)
			wantStatus(t, resp, body, tc.status, tc.code)
		})
	}
	resp, body := e.putReplicationXML("missing", replicationDoc1(good))
	wantStatus(t, resp, body, 404, "NoSuchBucket")
}

// TestPutBucketReplicationMessages checks S3's wording where clients and
// people rely on it.
func TestPutBucketReplicationMessages(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	good := replicationRuleV2("r1", 1, `<Prefix>a/</Prefix>`, "Disabled")
	for _, tc := range []struct{ doc, msg string }{
		{replicationDoc1(strings.Replace(good, "<Priority>1</Priority>", "", 1)),
			"Priority must be specified for this version of Cross Region Replication configuration schema. Please refer to S3 Developer Guide for more information."},
		{replicationDoc1(strings.Replace(good, "<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>", "", 1)),
			"DeleteMarkerReplication must be specified for this version of Cross Region Replication configuration schema."},
		{replicationDoc1(replicationRuleV2("r", 1, `<Tag><Key>k</Key><Value>v</Value></Tag>`, "Enabled")),
			"Delete marker replication is not supported if any Tag filter is specified."},
		{replicationDoc1(good, replicationRuleV2("r2", 1, "", "Disabled")), "Found duplicate priority 1."},
		{replicationDoc1(good, good), "Rule Id must be unique"},
		{replicationDoc1(strings.Replace(good, "arn:aws:s3:::dst", "dst", 1)), "Invalid bucket ARN"},
	} {
		resp, body := e.putReplicationXML("src", tc.doc)
		if resp.StatusCode != 400 || !contains(body, tc.msg) {
			t.Errorf("status %d, body %s; want 400 saying %q", resp.StatusCode, body, tc.msg)
		}
	}
}

// TestPutBucketReplicationBody checks the request body rules S3 applies
// before the document: a digest is required, and the size is bounded.
func TestPutBucketReplicationBody(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	doc := replicationDoc1(replicationRuleV2("r", 1, "", "Disabled"))
	resp, body := e.do("PUT", "/src?replication", []byte(doc), nil)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	if !contains(body, "Content-MD5") {
		t.Errorf("digest refusal does not name Content-MD5: %s", body)
	}
	resp, body = e.putReplicationXML("src", doc+strings.Repeat(" ", maxReplicationXML))
	wantStatus(t, resp, body, 400, "MaxMessageLengthExceeded")
	sum := md5.Sum([]byte("other"))
	resp, body = e.do("PUT", "/src?replication", []byte(doc), http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}})
	wantStatus(t, resp, body, 400, "BadDigest")
}

// noReplication hides the fake's ReplicationBackend, as a backend without it.
type noReplication struct{ Backend }

func TestReplicationWithoutBackend(t *testing.T) {
	fake := newFakeBackend()
	e := newEnv(t, noReplication{fake})
	e.mustBucket("src")
	ctx := t.Context()
	_, err := e.client.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	wantAPIError(t, err, "NotImplemented")
	_, err = e.client.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String("src")})
	wantAPIError(t, err, "NotImplemented")
	resp, body := e.putReplicationXML("src", replicationDoc1(replicationRuleV2("r", 1, "", "Disabled")))
	wantStatus(t, resp, body, 501, "NotImplemented")
}

// TestReplicationSubresourceElsewhere checks that ?replication on an
// object, or with a method S3 has no replication operation for, is
// NotImplemented rather than the plain operation.
func TestReplicationSubresourceElsewhere(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	e.mustPut("src", "obj", "x")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/src/obj?replication"},
		{"PUT", "/src/obj?replication"},
		{"DELETE", "/src/obj?replication"},
		{"POST", "/src?replication"},
		{"HEAD", "/src?replication"},
	} {
		resp, body := e.do(tc.method, tc.path, nil, nil)
		code := "NotImplemented"
		if tc.method == "HEAD" {
			code = "" // no body
		}
		wantStatus(t, resp, body, 501, code)
	}
	if got := e.fake.lastOp(); got != "PutObject" {
		t.Errorf("backend called for %s", got)
	}
}

func TestReplicationStatusHeader(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	e.mustPut("src", "plain", "x")
	e.mustPut("src", "replicated", "x")
	e.fake.setReplicationStatus("src", "replicated", "COMPLETED")
	ctx := t.Context()
	for key, want := range map[string]types.ReplicationStatus{"plain": "", "replicated": types.ReplicationStatusCompleted} {
		head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if head.ReplicationStatus != want {
			t.Errorf("HeadObject %s: ReplicationStatus %q, want %q", key, head.ReplicationStatus, want)
		}
		get, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("src"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		if get.ReplicationStatus != want {
			t.Errorf("GetObject %s: ReplicationStatus %q, want %q", key, get.ReplicationStatus, want)
		}
	}
}
