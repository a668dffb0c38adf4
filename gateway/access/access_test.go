package access

import (
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	const ok = `"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"`
	for _, tc := range []struct{ name, doc, msg string }{
		{"not an object", `[]`, msgFirstByte},
		{"bad json", `{"Statement":`, msgInvalidJSON},
		{"no statement", `{"Version":"2012-10-17"}`, msgNoStatement},
		{"empty statement", `{"Statement":[]}`, msgEmptyStatement},
		{"bad version", `{"Version":"2020-01-01","Statement":[{` + ok + `}]}`, msgVersion},
		{"no effect", `{"Statement":[{"Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, "Missing required field Effect"},
		{"bad effect", `{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, "Invalid effect: Maybe"},
		{"no principal", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, "Missing required field Principal"},
		{"bad principal", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"no such/user"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, msgInvalidPrinc},
		{"unknown user", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/ghost"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, msgInvalidPrinc},
		{"bad action", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":"arn:aws:s3:::b/*"}]}`, msgInvalidAction},
		{"other service", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::b/*"}]}`, msgInvalidAction},
		{"bad resource", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"b/*"}]}`, msgInvalidResource},
		{"other bucket", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`, msgInvalidResource},
		{"mismatch", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b"}]}`, msgMismatch},
		{"no action", `{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::b"}]}`, "Missing required field Action"},
		{"no resource", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}`, "Missing required field Resource"},
		{"bad operator", `{"Statement":[{` + ok + `,"Condition":{"StringEqualz":{"s3:prefix":"a"}}}]}`, "Invalid Condition type : StringEqualz"},
		{"bad key", `{"Statement":[{` + ok + `,"Condition":{"StringEquals":{"s3:colour":"a"}}}]}`, msgConditionKey},
		{"bad ip", `{"Statement":[{` + ok + `,"Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}]}`, "Invalid Condition value"},
		{"bad number", `{"Statement":[{` + ok + `,"Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}]}`, "Invalid Condition value"},
		{"bad date", `{"Statement":[{` + ok + `,"Condition":{"DateLessThan":{"aws:CurrentTime":"soon"}}}]}`, "Invalid Condition value"},
		{"unknown field", `{"Statement":[{` + ok + `,"Colour":"red"}]}`, "Unknown field Colour"},
		{"dup sid", `{"Statement":[{"Sid":"a",` + ok + `},{"Sid":"a",` + ok + `}]}`, "must be unique"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), Options{Kind: BucketPolicy, Bucket: "b", KnownUser: func(n string) bool { return n == "alice" }})
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse = %v, want *Error", err)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("message %q, want %q", e.Message, tc.msg)
			}
		})
	}
	if _, err := Parse([]byte(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b"}}`), Options{Kind: UserPolicy}); err == nil || !strings.Contains(err.Error(), "principal") {
		t.Fatalf("user policy with a principal: %v", err)
	}
}

func mustParse(t testing.TB, doc string, o Options) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	alice := Principal{User: "alice", CanonicalID: "c-alice"}
	bob := Principal{User: "bob", CanonicalID: "c-bob"}
	anon := Principal{Anonymous: true}
	root := Principal{Root: true, CanonicalID: "ROOT"}
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/pub/*"},
		{"Sid":"alice","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice"]},"Action":["s3:Put*","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
		{"Sid":"locks","Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/locks/*"},
		{"Sid":"nosecret","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/secret/*"},
		{"Sid":"tls","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
		{"Sid":"onlyroot","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::b"},
		{"Sid":"prefix","Effect":"Allow","Principal":{"CanonicalUser":"c-bob"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["home/bob/*"]}}}
	]}`, Options{Kind: BucketPolicy, Bucket: "b"})
	req := func(pr Principal, action, bucket, key string, kv ...string) *Request {
		r := &Request{Principal: pr, Action: action, Resource: ResourceARN(bucket, key)}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Set(kv[i], kv[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *Request
		want Decision
	}{
		{"anonymous reads pub", req(anon, "s3:GetObject", "b", "pub/x"), Allowed},
		{"anonymous elsewhere", req(anon, "s3:GetObject", "b", "x"), NoMatch},
		{"action case", req(alice, "S3:PUTOBJECT", "b", "x", "aws:securetransport", "true"), Allowed},
		{"alice lists", req(alice, "s3:ListBucket", "b", ""), Allowed},
		{"alice no delete", req(alice, "s3:DeleteObject", "b", "locks/1"), NoMatch},
		{"bob deletes locks", req(bob, "s3:DeleteObject", "b", "locks/1"), Allowed},
		{"bob not data", req(bob, "s3:DeleteObject", "b", "data/1"), NoMatch},
		{"deny wins", req(anon, "s3:GetObject", "b", "secret/x"), Denied},
		{"deny wins over alice", req(alice, "s3:PutObject", "b", "secret/x", "aws:securetransport", "true"), Denied},
		{"bool condition", req(alice, "s3:PutObject", "b", "x", "aws:securetransport", "false"), Denied},
		{"missing key fails positive", req(alice, "s3:PutObject", "b", "x"), Allowed},
		{"notprincipal denies others", req(alice, "s3:DeleteBucket", "b", ""), Denied},
		{"notprincipal spares root", req(root, "s3:DeleteBucket", "b", ""), NoMatch},
		{"prefix like", req(bob, "s3:ListBucket", "b", "", "s3:prefix", "home/bob/docs"), Allowed},
		{"prefix other", req(bob, "s3:ListBucket", "b", "", "s3:prefix", "home/alice/"), NoMatch},
		{"prefix absent", req(bob, "s3:ListBucket", "b", ""), NoMatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Evaluate(tc.r); got != tc.want {
				t.Fatalf("Evaluate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	pr := Principal{User: "u"}
	for _, tc := range []struct {
		name, cond string
		kv         []string
		want       bool
	}{
		{"ip in", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.1.1"]}}`, []string{"aws:sourceip", "10.1.2.3"}, true},
		{"ip single", `{"IpAddress":{"aws:SourceIp":"192.168.1.1"}}`, []string{"aws:sourceip", "192.168.1.1"}, true},
		{"ip out", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, []string{"aws:sourceip", "11.1.2.3"}, false},
		{"not ip", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, []string{"aws:sourceip", "11.1.2.3"}, true},
		{"ipv6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, []string{"aws:sourceip", "2001:db8::1"}, true},
		{"numeric lt", `{"NumericLessThanEquals":{"s3:max-keys":"100"}}`, []string{"s3:max-keys", "100"}, true},
		{"numeric gt", `{"NumericLessThan":{"s3:max-keys":100}}`, []string{"s3:max-keys", "101"}, false},
		{"numeric ne", `{"NumericNotEquals":{"s3:max-keys":"5"}}`, []string{"s3:max-keys", "6"}, true},
		{"date before", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, []string{"aws:currenttime", "2026-12-07T10:00:00Z"}, true},
		{"date after", `{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01"}}`, []string{"aws:currenttime", "2026-12-07T10:00:00Z"}, false},
		{"epoch", `{"DateGreaterThanEquals":{"aws:EpochTime":"1000"}}`, []string{"aws:epochtime", "2000"}, true},
		{"string ne missing", `{"StringNotEquals":{"s3:x-amz-acl":"public-read"}}`, nil, true},
		{"string eq missing", `{"StringEquals":{"s3:x-amz-acl":"private"}}`, nil, false},
		{"if exists missing", `{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}`, nil, true},
		{"if exists present", `{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}`, []string{"s3:x-amz-acl", "public-read"}, false},
		{"ignore case", `{"StringEqualsIgnoreCase":{"s3:x-amz-acl":"PRIVATE"}}`, []string{"s3:x-amz-acl", "private"}, true},
		{"not like", `{"StringNotLike":{"s3:prefix":"tmp/*"}}`, []string{"s3:prefix", "tmp/x"}, false},
		{"null true", `{"Null":{"s3:x-amz-acl":"true"}}`, nil, true},
		{"null false", `{"Null":{"s3:x-amz-acl":"false"}}`, nil, false},
		{"existing tag", `{"StringEquals":{"s3:ExistingObjectTag/class":"backup"}}`, []string{"s3:existingobjecttag/class", "backup"}, true},
		{"lock mode", `{"StringEquals":{"s3:object-lock-mode":"COMPLIANCE"}}`, []string{"s3:object-lock-mode", "GOVERNANCE"}, false},
		{"bool tls", `{"Bool":{"aws:SecureTransport":true}}`, []string{"aws:securetransport", "true"}, true},
		{"arn like", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}}`, []string{"aws:principalarn", "arn:aws:iam::1:user/alice"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":`+tc.cond+`}]}`, Options{Kind: UserPolicy})
			r := &Request{Principal: pr, Action: "s3:ListBucket", Resource: ResourceARN("b", "")}
			for i := 0; i+1 < len(tc.kv); i += 2 {
				r.Set(tc.kv[i], tc.kv[i+1])
			}
			if got := p.Evaluate(r) == Allowed; got != tc.want {
				t.Fatalf("allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBuiltins(t *testing.T) {
	u := Principal{User: "u"}
	for _, tc := range []struct {
		policy, action string
		want           Decision
	}{
		{"readwrite", "s3:DeleteObject", Allowed},
		{"readonly", "s3:GetObject", Allowed},
		{"readonly", "s3:PutObject", NoMatch},
		{"writeonly", "s3:PutObject", Allowed},
		{"writeonly", "s3:GetObject", Allowed},
		{"writeonly", "s3:DeleteObject", NoMatch},
		{"writeonly", "s3:DeleteObjectVersion", NoMatch},
		{"writeonly", "s3:PutBucketPolicy", NoMatch},
		{"writeonly", "s3:PutLifecycleConfiguration", NoMatch},
		{"writeonly", "s3:PutObjectTagging", NoMatch},
	} {
		p, ok := Builtin(tc.policy)
		if !ok {
			t.Fatal(tc.policy)
		}
		if got := p.Evaluate(&Request{Principal: u, Action: tc.action, Resource: ResourceARN("b", "k")}); got != tc.want {
			t.Errorf("%s %s = %v, want %v", tc.policy, tc.action, got, tc.want)
		}
	}
}

func TestIsPublic(t *testing.T) {
	o := Options{Kind: BucketPolicy, Bucket: "b"}
	pub := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, o)
	ipOnly := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, o)
	user := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, o)
	if !pub.IsPublic() || ipOnly.IsPublic() || user.IsPublic() {
		t.Fatalf("IsPublic: %v %v %v", pub.IsPublic(), ipOnly.IsPublic(), user.IsPublic())
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*/locks/*", "b/locks/x", true}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false},
		{"abc", "abcd", false},
	} {
		if got := match(tc.p, tc.s, false); got != tc.want {
			t.Errorf("match(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["alice"]},"NotAction":"s3:Get*","NotResource":"arn:aws:s3:::b","Condition":{"ForAllValues:StringLike":{"s3:prefix":["a*"]},"NumericLessThanIfExists":{"s3:max-keys":5}}}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"x"},"Action":"*","Resource":"arn:aws:s3:::b*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Null":{"s3:x-amz-acl":true}}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc, Options{Kind: BucketPolicy, Bucket: "b"})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse error %T %v, want *Error", err, err)
			}
			return
		}
		r := &Request{Principal: Principal{User: "alice"}, Action: "s3:GetObject", Resource: ResourceARN("b", "k")}
		r.Set("s3:prefix", "a")
		r.Set("aws:sourceip", "10.1.1.1")
		p.Evaluate(r)
		p.IsPublic()
	})
}

func BenchmarkEvaluate(b *testing.B) {
	p := mustParse(b, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"restic"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::backup/locks/*"},
		{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::backup","arn:aws:s3:::backup/*"],"Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
		{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::backup/pub/*"}]}`,
		Options{Kind: BucketPolicy, Bucket: "backup"})
	r := &Request{Principal: Principal{User: "restic", CanonicalID: "c"}, Action: "s3:DeleteObject", Resource: ResourceARN("backup", "locks/0123456789abcdef")}
	r.Set("aws:sourceip", "10.1.2.3")
	r.Set("aws:securetransport", "false")
	b.ReportAllocs()
	for b.Loop() {
		if p.Evaluate(r) != Allowed {
			b.Fatal("not allowed")
		}
	}
}
