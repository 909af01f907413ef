package wordpiece

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The ids below are bert-base-uncased's, looked up by hand in its
// vocab.txt (line number − 1): e.g. "hello" is line 7593, id 7592.
func TestDefaultKnownIDs(t *testing.T) {
	tok := Default()
	if tok.Size() != 30522 {
		t.Fatalf("vocabulary of %d pieces, want 30522", tok.Size())
	}
	if tok.Pad != 0 || tok.Unk != 100 || tok.Cls != 101 || tok.Sep != 102 || tok.Mask != 103 {
		t.Fatalf("special ids %d %d %d %d %d, want 0 100 101 102 103", tok.Pad, tok.Unk, tok.Cls, tok.Sep, tok.Mask)
	}
	cases := []struct {
		text   string
		pieces []string
		ids    []int64
	}{
		{"Hello, world!", []string{"hello", ",", "world", "!"}, []int64{7592, 1010, 2088, 999}},
		{"The quick brown fox jumps over the lazy dog.",
			[]string{"the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "."},
			[]int64{1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012}},
		{"unaffable", []string{"una", "##ffa", "##ble"}, []int64{14477, 20961, 3468}},
		{"Héllo  Wörld\tça va?", []string{"hello", "world", "ca", "va", "?"}, []int64{7592, 2088, 6187, 12436, 1029}},
		{"中文字test", []string{"中", "文", "[UNK]", "test"}, []int64{1746, 1861, 100, 3231}},
		{"don't", []string{"don", "'", "t"}, []int64{2123, 1005, 1056}},
	}
	for _, c := range cases {
		if got := tok.Tokenize(c.text); !slices.Equal(got, c.pieces) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.text, got, c.pieces)
		}
		if got := tok.IDs(c.text, -1); !slices.Equal(got, c.ids) {
			t.Errorf("IDs(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
}

// A small vocabulary whose splits are worked out by hand.
func smallTokenizer(t *testing.T) *Tokenizer {
	t.Helper()
	vocab := strings.Join([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
		"un", "##aff", "##able", "aff", "run", "##ning", "##n", "##ing", ",", "!", "a"}, "\n")
	tok, err := New(strings.NewReader(vocab), true)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestWordPieceGreedyLongestMatch(t *testing.T) {
	tok := smallTokenizer(t)
	for _, c := range []struct {
		text string
		want []int64
	}{
		{"unaffable", []int64{5, 6, 7}},     // un ##aff ##able
		{"running", []int64{9, 10}},         // run ##ning, not run ##n ##ing
		{"runxyz", []int64{1}},              // a piece fails: the whole word is [UNK]
		{"RUN, a!", []int64{9, 13, 15, 14}}, // lower-cased, punctuation split
		{"", nil},
		{"   \t\n", nil},
	} {
		if got := tok.IDs(c.text, -1); !slices.Equal(got, c.want) {
			t.Errorf("IDs(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestEncodePairLayout(t *testing.T) {
	tok := smallTokenizer(t)
	e := tok.EncodePair("run a", "un", 8)
	wantIDs := []int64{2, 9, 15, 3, 5, 3, 0, 0}
	wantSeg := []int64{0, 0, 0, 0, 1, 1, 0, 0}
	if !slices.Equal(e.IDs, wantIDs) || !slices.Equal(e.Segments, wantSeg) || e.Length != 6 {
		t.Errorf("EncodePair = %v %v len %d, want %v %v len 6", e.IDs, e.Segments, e.Length, wantIDs, wantSeg)
	}
	// Truncation takes from the longer text first: budget 8-3 = 5 pieces.
	e = tok.EncodePair("a a a a a a", "run run", 8)
	wantIDs = []int64{2, 15, 15, 15, 3, 9, 9, 3}
	if !slices.Equal(e.IDs, wantIDs) || e.Length != 8 {
		t.Errorf("truncated EncodePair = %v len %d, want %v", e.IDs, e.Length, wantIDs)
	}
	// An empty half keeps its [SEP].
	e = tok.EncodePair("", "\x00", 5)
	if want := []int64{2, 3, 3, 0, 0}; !slices.Equal(e.IDs, want) || e.Length != 3 {
		t.Errorf("EncodePair of empty texts = %v len %d, want %v len 3", e.IDs, e.Length, want)
	}
	e = tok.Encode("a a a", 4)
	if want := []int64{2, 15, 15, 3}; !slices.Equal(e.IDs, want) {
		t.Errorf("Encode = %v, want %v", e.IDs, want)
	}
	if e := tok.Encode("anything", 0); len(e.IDs) != 2 || e.IDs[0] != 2 || e.IDs[1] != 3 {
		t.Errorf("Encode with maxLen 0 = %v, want [CLS] [SEP]", e.IDs)
	}
}

func TestHostileInputs(t *testing.T) {
	tok := Default()
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		{"invalid UTF-8 dropped", "hel\xfflo \xc3(world", []string{"hello", "(", "world"}},
		{"controls dropped", "hel\x00lo\x07 wor\u200bld\x1b", []string{"hello", "world"}},
		{"replacement char dropped", "a\ufffdb", []string{"ab"}},
		{"only junk", "\x00\x01\xff\xfe", nil},
		{"word over MaxWordRunes", strings.Repeat("a", MaxWordRunes+1), []string{"[UNK]"}},
	} {
		if got := tok.Tokenize(c.text); !slices.Equal(got, c.want) {
			t.Errorf("%s: Tokenize(%q) = %q, want %q", c.name, c.text, got, c.want)
		}
	}
	huge := strings.Repeat("hello world ", 1<<20) // 12 MiB
	if got := tok.IDs(huge, 5); !slices.Equal(got, []int64{7592, 2088, 7592, 2088, 7592}) {
		t.Errorf("IDs of a huge text, limit 5 = %v", got)
	}
	e := tok.EncodePair(huge, huge, 16)
	if len(e.IDs) != 16 || e.Length != 16 {
		t.Errorf("EncodePair of huge texts: %d ids, length %d, want 16", len(e.IDs), e.Length)
	}
}

func TestNewRejectsBadVocabularies(t *testing.T) {
	for name, vocab := range map[string]string{
		"no specials":  "a\nb\n",
		"duplicate":    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\na\n",
		"empty line":   "[PAD]\n\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n",
		"invalid utf8": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n\xff\n",
		"long line":    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" + strings.Repeat("x", 1<<17) + "\n",
	} {
		if _, err := New(strings.NewReader(vocab), true); err == nil {
			t.Errorf("%s: New accepted the vocabulary", name)
		}
	}
}

// FuzzTokenize checks that any text tokenizes to ids inside the vocabulary,
// that the pieces are valid UTF-8, and that encodings keep their length.
func FuzzTokenize(f *testing.F) {
	tok := Default()
	for _, s := range []string{"", "Hello, world!", "\xff\xfe", "中文", "a\u0301", "[SEP] [CLS]", "\x00\t\n"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, id := range tok.IDs(a, -1) {
			if id < 0 || id >= int64(tok.Size()) {
				t.Fatalf("id %d outside the vocabulary", id)
			}
			if p := tok.Piece(id); !utf8.ValidString(p) {
				t.Fatalf("piece %q is not UTF-8", p)
			}
		}
		for _, n := range []int{0, 3, 17} {
			e := tok.EncodePair(a, b, n)
			if len(e.IDs) != max(n, 3) || len(e.Segments) != len(e.IDs) || e.Length > len(e.IDs) || e.IDs[0] != tok.Cls {
				t.Fatalf("EncodePair(_, _, %d) = %+v", n, e)
			}
		}
	})
}
