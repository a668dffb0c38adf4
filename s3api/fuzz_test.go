package s3api

import (
	"encoding/xml"
	"errors"
	"maps"
	"reflect"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h      string
		size   int64
		want   byteRange
		ranged bool
		err    bool
	}{
		{"", 10, byteRange{}, false, false},
		{"bytes=0-0", 10, byteRange{0, 1}, true, false},
		{"bytes=0-", 10, byteRange{0, 10}, true, false},
		{"bytes=3-5", 10, byteRange{3, 3}, true, false},
		{"bytes=3-500", 10, byteRange{3, 7}, true, false},
		{"bytes=-3", 10, byteRange{7, 3}, true, false},
		{"bytes=-30", 10, byteRange{0, 10}, true, false},
		{"bytes=10-", 10, byteRange{}, false, true},
		{"bytes=10-20", 10, byteRange{}, false, true},
		{"bytes=-0", 10, byteRange{}, false, true},
		{"bytes=0-", 0, byteRange{}, false, true},
		{"bytes=-1", 0, byteRange{}, false, true},
		{"bytes=5-3", 10, byteRange{}, false, false},
		{"bytes=1-2,4-5", 10, byteRange{}, false, false},
		{"bytes=+1-2", 10, byteRange{}, false, false},
		{"bytes=1", 10, byteRange{}, false, false},
		{"bytes=99999999999999999999-", 10, byteRange{}, false, false},
		{"chars=1-2", 10, byteRange{}, false, false},
	} {
		got, ranged, err := parseRange(tc.h, tc.size)
		if got != tc.want || ranged != tc.ranged || (err != nil) != tc.err {
			t.Errorf("parseRange(%q, %d) = %+v %v %v", tc.h, tc.size, got, ranged, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidRange) {
			t.Errorf("parseRange(%q): %v, want InvalidRange", tc.h, err)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-", "bytes=-5", "bytes=3-7", "bytes=1-2,3-4", "bytes= 9-", "bytes=--1"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 { // math.MinInt64
			return
		}
		r, ranged, err := parseRange(h, size)
		if err != nil {
			if !errors.Is(err, ErrInvalidRange) || ranged {
				t.Fatalf("parseRange(%q, %d): %v ranged=%v", h, size, err, ranged)
			}
			return
		}
		if !ranged {
			return
		}
		// A served range is non-empty and inside the object.
		if r.start < 0 || r.length < 1 || r.start+r.length > size {
			t.Fatalf("parseRange(%q, %d) = %+v outside the object", h, size, r)
		}
	})
}

func FuzzCompleteMultipartXML(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>x</ETag><PartNumber>10000</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<?xml version="1.0"?><!-- c --><CompleteMultipartUpload/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxCompleteXML {
			return
		}
		parts, err := parseCompleteMultipart(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *Error", err)
			}
			return
		}
		if len(parts) == 0 || len(parts) > maxParts {
			t.Fatalf("%d parts accepted", len(parts))
		}
		for _, p := range parts {
			if p.PartNumber < 1 || p.PartNumber > maxParts {
				t.Fatalf("part number %d accepted", p.PartNumber)
			}
		}
	})
}

func FuzzDeleteObjectsXML(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object></Delete>`))
	f.Add([]byte(`<Delete><Object><Key></Key></Object></Delete>`))
	f.Add([]byte(`<Delete><Quiet>maybe</Quiet></Delete>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxDeleteXML {
			return
		}
		objs, _, err := parseDeleteObjects(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *Error", err)
			}
			return
		}
		if len(objs) == 0 || len(objs) > maxDeleteKeys {
			t.Fatalf("%d objects accepted", len(objs))
		}
		for _, o := range objs {
			if o.Key == "" {
				t.Fatal("empty key accepted")
			}
		}
	})
}

func FuzzTaggingXML(f *testing.F) {
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`), true)
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag><Tag><Key>a</Key><Value>c</Value></Tag></TagSet></Tagging>`), false)
	f.Add([]byte(`<Tagging><TagSet/></Tagging>`), false)
	f.Fuzz(func(t *testing.T, data []byte, object bool) {
		if len(data) > maxConfigXML {
			return
		}
		max := maxBucketTags
		if object {
			max = maxObjectTags
		}
		tags, err := parseTagging(data, max)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *Error", err)
			}
			return
		}
		if len(tags) > max {
			t.Fatalf("%d tags accepted, max %d", len(tags), max)
		}
		for k, v := range tags {
			if k == "" || len([]rune(k)) > maxTagKey || len([]rune(v)) > maxTagValue {
				t.Fatalf("tag %q=%q accepted", k, v)
			}
		}
		// What was accepted renders and parses back to the same tags.
		doc := renderTags(tags)
		back, err := parseTagging(mustXML(t, doc), max)
		if err != nil || len(back) != len(tags) {
			t.Fatalf("round trip: %v %v vs %v", err, back, tags)
		}
		for k, v := range tags {
			if back[k] != v {
				t.Fatalf("round trip changed %q: %q -> %q", k, v, back[k])
			}
		}
	})
}

func mustXML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := xml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzReplicationXML(f *testing.F) {
	f.Add([]byte(replicationDoc1(replicationRuleV2("r1", 1, `<And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And>`, "Disabled"))))
	f.Add([]byte(replicationDoc1(replicationRuleV2("r1", 0, "", "Enabled"), replicationRuleV2("", 7, `<Tag><Key>k</Key><Value></Value></Tag>`, "Disabled"))))
	f.Add([]byte(`<ReplicationConfiguration><Role>r</Role><Rule><Prefix>a</Prefix><Status>Disabled</Status><ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication><Destination><Bucket>arn:aws:s3:::d</Bucket><Account>1</Account><StorageClass>GLACIER</StorageClass></Destination></Rule></ReplicationConfiguration>`))
	f.Add([]byte(`<ReplicationConfiguration><Role/><Rule><Filter/><Priority>2147483648</Priority></Rule></ReplicationConfiguration>`))
	f.Add([]byte(`<?xml version="1.0"?><!-- c --><ReplicationConfiguration><Rule><Status>On</Status></Rule></ReplicationConfiguration><x/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxReplicationXML {
			return
		}
		cfg, err := parseReplication(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 501) {
				t.Fatalf("error %v is not a 400 or 501 *Error", err)
			}
			return
		}
		if n := len(cfg.Rules); n < 1 || n > maxReplicationRules {
			t.Fatalf("%d rules accepted", n)
		}
		ids := map[string]bool{}
		priorities := map[int]bool{}
		for _, r := range cfg.Rules {
			switch {
			case r.Filter != cfg.Rules[0].Filter:
				t.Fatal("V1 and V2 rules accepted together")
			case r.ID != "" && ids[r.ID], len([]rune(r.ID)) > maxReplicationRuleID:
				t.Fatalf("rule ID %q accepted", r.ID)
			case r.Status != "Enabled" && r.Status != "Disabled":
				t.Fatalf("status %q accepted", r.Status)
			case r.Filter && (r.Priority < 0 || priorities[r.Priority]):
				t.Fatalf("priority %d accepted", r.Priority)
			case r.DeleteMarkerReplication && len(r.Tags) > 0:
				t.Fatal("delete marker replication accepted with a tag filter")
			case !isARN(r.DestinationBucket):
				t.Fatalf("destination %q accepted", r.DestinationBucket)
			case r.DestinationStorageClass != "" && !replicationStorageClasses[r.DestinationStorageClass]:
				t.Fatalf("storage class %q accepted", r.DestinationStorageClass)
			}
			ids[r.ID] = true
			if r.Filter {
				priorities[r.Priority] = true
			}
		}
		// What was accepted renders and parses back to the same configuration.
		back, err := parseReplication(mustXML(t, renderReplication(cfg)))
		if err != nil {
			t.Fatalf("rendered configuration refused: %v", err)
		}
		if !sameReplication(cfg, back) {
			t.Fatalf("round trip changed\n%+v\nto\n%+v", cfg, back)
		}
	})
}

func sameReplication(a, b ReplicationConfig) bool {
	if a.Role != b.Role || len(a.Rules) != len(b.Rules) {
		return false
	}
	for i := range a.Rules {
		ra, rb := a.Rules[i], b.Rules[i]
		if !maps.Equal(ra.Tags, rb.Tags) {
			return false
		}
		ra.Tags, rb.Tags = nil, nil
		if !reflect.DeepEqual(ra, rb) {
			return false
		}
	}
	return true
}
