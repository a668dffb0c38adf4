package bench

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// kind is a class of file in a generated dataset. Each kind has its own
// content (and so its own compressibility), its own size distribution and
// its own place in the tree.
type kind uint8

const (
	kindText   kind = iota // documents: prose, markdown, CSV
	kindSource             // source code
	kindLog                // log files: timestamped lines, grow by appends
	kindBinary             // executables and libraries: partly compressible
	kindMedia              // photos, video, archives: incompressible
	kindDB                 // database files: 8 KiB pages, edited in place
	kindDisk               // VM disk images: zero runs and mixed blocks
	numKinds
)

// kindInfo describes a kind. Weights are relative file counts; sizes follow
// a log-normal distribution around median, capped at max.
type kindInfo struct {
	name   string
	weight int
	median int64
	max    int64
	align  int64 // sizes and in-place edits are multiples of this (0: none)
	exts   []string
	roots  []string
	mode   int64
}

// kinds is a read-only table.
var kinds = [numKinds]kindInfo{
	kindText:   {"text", 150, 12 << 10, 4 << 20, 0, []string{".txt", ".md", ".csv", ".html"}, []string{"home/alice/Documents", "home/bob/Documents", "srv/share/reports"}, 0o644},
	kindSource: {"source", 300, 8 << 10, 512 << 10, 0, []string{".go", ".c", ".h", ".py", ".js"}, []string{"src", "home/alice/src"}, 0o644},
	kindLog:    {"log", 6, 256 << 10, 32 << 20, 0, []string{".log"}, []string{"var/log"}, 0o640},
	kindBinary: {"binary", 12, 512 << 10, 32 << 20, 0, []string{"", ".so", ".bin"}, []string{"opt", "usr/lib"}, 0o755},
	kindMedia:  {"media", 15, 1 << 20, 32 << 20, 0, []string{".jpg", ".png", ".mp4", ".zip", ".gz"}, []string{"home/alice/Pictures", "home/bob/Videos", "srv/share/archive"}, 0o644},
	kindDB:     {"db", 3, 4 << 20, 64 << 20, 8 << 10, []string{".db", ".dat"}, []string{"var/lib/db"}, 0o600},
	kindDisk:   {"disk", 1, 16 << 20, 128 << 20, 64 << 10, []string{".img", ".qcow2"}, []string{"srv/vm"}, 0o600},
}

// pickKind draws a kind by weight.
func pickKind(r *rand.Rand) kind {
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	n := r.IntN(total)
	for i, k := range kinds {
		if n < k.weight {
			return kind(i)
		}
		n -= k.weight
	}
	return kindText
}

// drawSize draws a file size for k, at least 1 byte and at most limit.
func drawSize(r *rand.Rand, k kind, limit int64) int64 {
	ki := kinds[k]
	s := int64(float64(ki.median) * math.Exp(1.1*r.NormFloat64()))
	s = min(s, ki.max, limit)
	if ki.align > 0 {
		s = s / ki.align * ki.align
		if s == 0 {
			s = min(ki.align, limit)
		}
	}
	return max(s, 1)
}

// vocab is a dataset's word list, made from its seed: pseudo-words built
// of syllables, drawn with a Zipf distribution as natural words are.
type vocab struct {
	words []string
}

// syllables make up vocab's words; read-only.
var syllables = strings.Fields("ka to ri mo na lu be sa de vi po ga ne chi ra tu me so li fa ku ze ho ni ba wa ye ro di pe mi ta lo gu se ve ja ko ru hi")

func newVocab(seed uint64) *vocab {
	r := rand.New(rand.NewPCG(seed, 0x766f636162))
	v := &vocab{words: make([]string, 0, 2048)}
	seen := make(map[string]bool, 2048)
	for len(v.words) < cap(v.words) {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteString(syllables[r.IntN(len(syllables))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			v.words = append(v.words, w)
		}
	}
	return v
}

// producer is an endless, deterministic stream of one kind's content. It
// appends one record (a paragraph, a function, a log line, a block, a page)
// at a time to an internal buffer.
type producer struct {
	next    func(dst []byte) []byte
	pending []byte
	off     int
}

func (p *producer) Read(b []byte) (int, error) {
	for p.off >= len(p.pending) {
		p.pending = p.next(p.pending[:0])
		p.off = 0
	}
	n := copy(b, p.pending[p.off:])
	p.off += n
	return n, nil
}

// rec holds the state one producer's records share.
type rec struct {
	r    *rand.Rand
	cc   *rand.ChaCha8
	zipf *rand.Zipf
	v    *vocab
	t    time.Time // log clock
	page uint64    // db page number
	code [48]byte  // frequent bytes of binary code
}

// newProducer returns k's content stream for the given 32-byte key.
func newProducer(k kind, key [32]byte, v *vocab, t0 time.Time) *producer {
	cc := rand.NewChaCha8(key)
	r := rand.New(cc)
	s := &rec{r: r, cc: cc, v: v, t: t0}
	s.zipf = rand.NewZipf(r, 1.1, 2, uint64(len(v.words)-1))
	for i := range s.code {
		s.code[i] = byte(r.Uint32())
	}
	p := &producer{}
	switch k {
	case kindText:
		p.next = s.paragraph
	case kindSource:
		p.next = s.function
	case kindLog:
		p.next = s.logLine
	case kindBinary:
		p.next = s.binaryBlock
	case kindMedia:
		p.next = func(dst []byte) []byte { return s.random(dst, 64<<10) }
	case kindDB:
		p.next = s.dbPage
	case kindDisk:
		p.next = s.diskBlock
	default:
		panic(fmt.Sprintf("bench: unknown kind %d", k))
	}
	return p
}

func (s *rec) word() string { return s.v.words[s.zipf.Uint64()] }

func (s *rec) words(dst []byte, n int, sep byte) []byte {
	for i := range n {
		if i > 0 {
			dst = append(dst, sep)
		}
		dst = append(dst, s.word()...)
	}
	return dst
}

// paragraph is prose wrapped at about 72 columns, then a blank line.
func (s *rec) paragraph(dst []byte) []byte {
	col := 0
	for range 2 + s.r.IntN(6) {
		n := 5 + s.r.IntN(16)
		for i := range n {
			w := s.word()
			if i == 0 && w != "" {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			if col+len(w) > 72 {
				dst = append(dst, '\n')
				col = 0
			} else if col > 0 {
				dst = append(dst, ' ')
				col++
			}
			dst = append(dst, w...)
			col += len(w)
			if i == n-1 {
				dst = append(dst, '.')
				col++
			} else if s.r.IntN(12) == 0 {
				dst = append(dst, ',')
				col++
			}
		}
	}
	return append(dst, "\n\n"...)
}

// stmts are the statement templates of function; read-only.
var stmts = []string{
	"%s := %s.%s(%s)\n",
	"if err != nil {\n\t\treturn nil, fmt.Errorf(\"%s %s: %%w\", err)\n\t}\n",
	"for i := 0; i < len(%s); i++ {\n\t\t%s[i] = %s(%s[i])\n\t}\n",
	"%s.%s = append(%s.%s, %s)\n",
	"// %s %s %s %s.\n",
	"defer %s.%s()\n",
	"if %s == nil {\n\t\treturn %s\n\t}\n",
	"%s, err := %s(ctx, %s)\n",
}

// function is a Go-like function with a doc comment.
func (s *rec) function(dst []byte) []byte {
	name, recv, arg := s.word(), s.word(), s.word()
	dst = append(dst, "// "...)
	dst = append(dst, name...)
	dst = append(dst, ' ')
	dst = s.words(dst, 4+s.r.IntN(10), ' ')
	dst = append(dst, ".\n"...)
	dst = fmt.Appendf(dst, "func (%c *%s) %s(ctx context.Context, %s []%s) (*%s, error) {\n",
		recv[0], strings.ToUpper(recv[:1])+recv[1:], strings.ToUpper(name[:1])+name[1:], arg, s.word(), s.word())
	for range 2 + s.r.IntN(12) {
		f := stmts[s.r.IntN(len(stmts))]
		args := make([]any, strings.Count(f, "%s"))
		for i := range args {
			args[i] = s.word()
		}
		dst = append(dst, '\t')
		dst = fmt.Appendf(dst, f, args...)
	}
	return append(dst, "\treturn nil, nil\n}\n\n"...)
}

// levels are log levels, INFO most often; read-only.
var levels = []string{"INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}

// logLine is one structured log line; the clock moves on a little each line.
func (s *rec) logLine(dst []byte) []byte {
	s.t = s.t.Add(time.Duration(s.r.IntN(2000)) * time.Millisecond)
	dst = s.t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = fmt.Appendf(dst, " %-5s %s[%d]: ", levels[s.r.IntN(len(levels))], s.v.words[s.r.IntN(16)], 1000+s.r.IntN(64))
	dst = s.words(dst, 3+s.r.IntN(8), ' ')
	dst = fmt.Appendf(dst, " req=%016x dur=%dms %s=%s\n", s.r.Uint64(), s.r.IntN(900), s.word(), s.word())
	return dst
}

// random appends n incompressible bytes.
func (s *rec) random(dst []byte, n int) []byte {
	l := len(dst)
	dst = append(dst, make([]byte, n)...)
	s.cc.Read(dst[l:])
	return dst
}

// code appends n bytes shaped like machine code: mostly a few frequent
// byte values, some random ones.
func (s *rec) codeBytes(dst []byte, n int) []byte {
	l := len(dst)
	dst = s.random(dst, n)
	for i, b := range dst[l:] {
		if b < 192 {
			dst[l+i] = s.code[b%48]
		}
	}
	return dst
}

// binaryBlock is a 4 KiB block of an executable: code, string table, padding
// or random data (compressed sections, keys).
func (s *rec) binaryBlock(dst []byte) []byte {
	const n = 4 << 10
	switch c := s.r.IntN(10); {
	case c < 6:
		return s.codeBytes(dst, n)
	case c < 8:
		l := len(dst)
		for len(dst)-l < n {
			dst = append(dst, s.word()...)
			dst = append(dst, 0)
		}
		return dst[:l+n]
	case c < 9:
		return append(dst, make([]byte, n)...)
	default:
		return s.random(dst, n)
	}
}

// dbPage is an 8 KiB page: a header, rows up to a fill factor, zeros.
func (s *rec) dbPage(dst []byte) []byte {
	const n = 8 << 10
	l := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, s.page)
	dst = binary.LittleEndian.AppendUint64(dst, s.r.Uint64()) // LSN
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.r.IntN(4)))
	s.page++
	fill := l + n*(40+s.r.IntN(56))/100
	for len(dst) < fill {
		dst = fmt.Appendf(dst, "%d\x1f%s %s\x1f%s@%s.example\x1f%d.%02d\x1e",
			s.r.IntN(1e7), s.word(), s.word(), s.word(), s.word(), s.r.IntN(1e5), s.r.IntN(100))
	}
	dst = dst[:min(len(dst), l+n)]
	return append(dst, make([]byte, l+n-len(dst))...)
}

// diskBlock is a 64 KiB block of a disk image: free space (zeros), file
// data of various kinds.
func (s *rec) diskBlock(dst []byte) []byte {
	const n = 64 << 10
	l := len(dst)
	switch c := s.r.IntN(20); {
	case c < 9:
		return append(dst, make([]byte, n)...)
	case c < 13:
		return s.random(dst, n)
	case c < 17:
		for len(dst)-l < n {
			dst = s.paragraph(dst)
		}
		return dst[:l+n]
	default:
		return s.codeBytes(dst, n)
	}
}
