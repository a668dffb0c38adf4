package events

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeRecord: no input makes the decoder panic, whatever decodes
// encodes back to the same line, and a scan never reads past the last
// newline.
func FuzzDecodeRecord(f *testing.F) {
	line, _ := encodeRecord(Event{Seq: 7, Time: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), Kind: TierFailing, Subject: "cold", Message: "down"})
	f.Add(line)
	f.Add(line[:len(line)/2])
	f.Add(append(append([]byte{}, line...), line[:20]...))
	f.Add([]byte("00000000 {}\n"))
	f.Add([]byte("zzzzzzzz {\"seq\":1}\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []Event
		r := scanRecords(b, 0, func(e Event) { got = append(got, e) })
		if r.end > int64(len(b)) || (r.end > 0 && b[r.end-1] != '\n') {
			t.Fatalf("scan ended at %d of %d", r.end, len(b))
		}
		if bytes.IndexByte(b[r.end:], '\n') >= 0 {
			t.Fatalf("a newline after the scan's end %d", r.end)
		}
		if len(got) != r.records {
			t.Fatalf("%d records counted, %d passed", r.records, len(got))
		}
		for _, e := range got {
			again, err := encodeRecord(e)
			if err != nil {
				t.Fatal(err)
			}
			back, err := decodeRecord(again[:len(again)-1])
			if err != nil || back.Seq != e.Seq || back.Message != e.Message || !back.Time.Equal(e.Time) {
				t.Fatalf("round trip of %+v: %+v, %v", e, back, err)
			}
		}
	})
}
