package s3api

import (
	"encoding/xml"
	"errors"
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
