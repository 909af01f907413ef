// Package wordpiece is BERT's tokenizer: a basic tokenizer (clean the text,
// split CJK characters, lower-case, strip accents, split on whitespace and
// punctuation) followed by WordPiece's greedy longest-match-first split of
// each word into pieces of a vocabulary.
//
// Default returns the tokenizer over the bert-base-uncased vocabulary
// (30,522 pieces), which this package embeds, so it works offline:
//
//	tok := wordpiece.Default()
//	enc := tok.EncodePair("The cat sat.", "It purred.", 32)
//	// enc.IDs: [CLS] the cat sat . [SEP] it pu ##rre ##d . [SEP] [PAD] …
//
// Every string is accepted: invalid UTF-8 bytes and control characters are
// dropped as BERT's own tokenizer drops them, a word longer than
// MaxWordRunes is [UNK], and the work done on a text is bounded by the
// number of pieces asked for, not by its length.
package wordpiece

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The special tokens, as the bert-base vocabularies spell them.
const (
	PadToken  = "[PAD]"
	UnkToken  = "[UNK]"
	ClsToken  = "[CLS]"
	SepToken  = "[SEP]"
	MaskToken = "[MASK]"
)

// MaxWordRunes is the longest word (in runes) WordPiece splits; a longer
// one is [UNK], as in BERT.
const MaxWordRunes = 100

// maxVocab bounds the vocabulary a Tokenizer reads.
const maxVocab = 1 << 20

// continuation prefixes a piece that continues a word.
const continuation = "##"

//go:embed bert-base-uncased-vocab.txt
var bertBaseUncased string

// Tokenizer splits text into the pieces of a vocabulary. It is safe for
// concurrent use.
type Tokenizer struct {
	ids    map[string]int64
	pieces []string
	// Pad, Unk, Cls, Sep and Mask are the ids of the special tokens.
	Pad, Unk, Cls, Sep, Mask int64
	lower                    bool
}

// Default returns the uncased tokenizer over the embedded bert-base-uncased
// vocabulary (Apache License 2.0, see VOCAB_NOTICE).
func Default() *Tokenizer {
	t, err := New(strings.NewReader(bertBaseUncased), true)
	if err != nil {
		panic("wordpiece: the embedded vocabulary: " + err.Error()) // a broken build, not an input
	}
	return t
}

// New reads a vocabulary, one piece per line (line i is id i), which must
// hold the five special tokens. lower lower-cases the text and strips its
// accents (an uncased vocabulary).
func New(vocab io.Reader, lower bool) (*Tokenizer, error) {
	t := &Tokenizer{ids: make(map[string]int64), lower: lower}
	sc := bufio.NewScanner(vocab)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for sc.Scan() {
		piece := strings.TrimRight(sc.Text(), "\r")
		if len(t.pieces) >= maxVocab {
			return nil, fmt.Errorf("wordpiece: vocabulary over %d pieces", maxVocab)
		}
		if !utf8.ValidString(piece) || piece == "" {
			return nil, fmt.Errorf("wordpiece: vocabulary line %d is empty or not UTF-8", len(t.pieces)+1)
		}
		if _, dup := t.ids[piece]; dup {
			return nil, fmt.Errorf("wordpiece: vocabulary line %d repeats %q", len(t.pieces)+1, piece)
		}
		t.ids[piece] = int64(len(t.pieces))
		t.pieces = append(t.pieces, piece)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wordpiece: vocabulary: %w", err)
	}
	for _, s := range []struct {
		tok string
		id  *int64
	}{{PadToken, &t.Pad}, {UnkToken, &t.Unk}, {ClsToken, &t.Cls}, {SepToken, &t.Sep}, {MaskToken, &t.Mask}} {
		id, ok := t.ids[s.tok]
		if !ok {
			return nil, fmt.Errorf("wordpiece: the vocabulary has no %s", s.tok)
		}
		*s.id = id
	}
	return t, nil
}

// Size returns the number of pieces in the vocabulary.
func (t *Tokenizer) Size() int { return len(t.pieces) }

// Piece returns the piece of id, or [UNK] for an id outside the vocabulary.
func (t *Tokenizer) Piece(id int64) string {
	if id < 0 || id >= int64(len(t.pieces)) {
		return UnkToken
	}
	return t.pieces[id]
}

// ID returns the id of piece, and false when the vocabulary lacks it.
func (t *Tokenizer) ID(piece string) (int64, bool) {
	id, ok := t.ids[piece]
	return id, ok
}

// Tokenize returns the pieces of text.
func (t *Tokenizer) Tokenize(text string) []string {
	ids := t.IDs(text, -1)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.pieces[id]
	}
	return out
}

// IDs returns the ids of the first limit pieces of text (all of them when
// limit is negative). It stops reading text once it has limit pieces.
func (t *Tokenizer) IDs(text string, limit int) []int64 {
	var out []int64
	if limit == 0 {
		return out
	}
	for word := range t.words(text) {
		out = t.appendPieces(out, word)
		if limit >= 0 && len(out) >= limit {
			return out[:limit]
		}
	}
	return out
}

// Encoding is a tokenized sequence, padded to a fixed length.
type Encoding struct {
	// IDs are the piece ids: [CLS] a… [SEP] (b… [SEP]) then [PAD]s.
	IDs []int64
	// Segments are 0 over [CLS], a and its [SEP], 1 over b and its [SEP],
	// and 0 over the padding.
	Segments []int64
	// Length is the number of ids before the padding.
	Length int
}

// Encode encodes one text as [CLS] text [SEP], truncated and padded to
// maxLen (at least 2) ids.
func (t *Tokenizer) Encode(text string, maxLen int) Encoding {
	maxLen = max(maxLen, 2)
	a := t.IDs(text, maxLen-2)
	return t.assemble(a, nil, false, maxLen)
}

// EncodePair encodes a text pair as [CLS] a [SEP] b [SEP], truncated and
// padded to maxLen (at least 3) ids. Truncation takes pieces from the end of
// the longer text first, as BERT's does.
func (t *Tokenizer) EncodePair(a, b string, maxLen int) Encoding {
	maxLen = max(maxLen, 3)
	budget := maxLen - 3
	pa, pb := t.IDs(a, budget), t.IDs(b, budget)
	for len(pa)+len(pb) > budget {
		if len(pa) > len(pb) {
			pa = pa[:len(pa)-1]
		} else {
			pb = pb[:len(pb)-1]
		}
	}
	return t.assemble(pa, pb, true, maxLen)
}

// assemble lays out [CLS] a [SEP], then b [SEP] for a pair, and the padding.
func (t *Tokenizer) assemble(a, b []int64, pair bool, maxLen int) Encoding {
	e := Encoding{IDs: make([]int64, 0, maxLen), Segments: make([]int64, maxLen)}
	e.IDs = append(e.IDs, t.Cls)
	e.IDs = append(e.IDs, a...)
	e.IDs = append(e.IDs, t.Sep)
	if pair {
		start := len(e.IDs)
		e.IDs = append(e.IDs, b...)
		e.IDs = append(e.IDs, t.Sep)
		for i := start; i < len(e.IDs); i++ {
			e.Segments[i] = 1
		}
	}
	e.Length = len(e.IDs)
	for len(e.IDs) < maxLen {
		e.IDs = append(e.IDs, t.Pad)
	}
	return e
}

// appendPieces appends the WordPiece split of word (one basic token) to
// out: the longest vocabulary piece at each position, continuations
// prefixed with "##"; a word that does not split, or is longer than
// MaxWordRunes, is one [UNK].
func (t *Tokenizer) appendPieces(out []int64, word string) []int64 {
	if id, ok := t.ids[word]; ok {
		return append(out, id)
	}
	if utf8.RuneCountInString(word) > MaxWordRunes {
		return append(out, t.Unk)
	}
	n := len(out)
	var key strings.Builder
	for start := 0; start < len(word); {
		end, found := len(word), int64(-1)
		for end > start {
			key.Reset()
			if start > 0 {
				key.WriteString(continuation)
			}
			key.WriteString(word[start:end])
			if id, ok := t.ids[key.String()]; ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(out[:n], t.Unk)
		}
		out = append(out, found)
		start = end
	}
	return out
}

// words yields the basic tokens of text: BERT's BasicTokenizer. Control
// characters, U+0000 and U+FFFD (which invalid UTF-8 decodes to) are
// dropped, whitespace separates, each CJK ideograph and each punctuation
// character is a token of its own, and an uncased tokenizer lower-cases and
// strips accents (NFD, then drops the nonspacing marks).
func (t *Tokenizer) words(text string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		var word strings.Builder
		flush := func() bool {
			if word.Len() == 0 {
				return true
			}
			w := t.normalise(word.String())
			word.Reset()
			return w == "" || yield(w)
		}
		for _, r := range text {
			switch {
			case r == 0 || r == utf8.RuneError || isControl(r):
				continue
			case isWhitespace(r):
				if !flush() {
					return
				}
			case isCJK(r) || isPunctuation(r):
				if !flush() {
					return
				}
				word.WriteRune(r)
				if !flush() {
					return
				}
			default:
				word.WriteRune(r)
			}
		}
		flush()
	}
}

// normalise lower-cases a word and strips its accents, for an uncased
// tokenizer. Stripping can expose no new punctuation or whitespace: NFD
// only separates letters from their marks.
func (t *Tokenizer) normalise(w string) string {
	if !t.lower {
		return w
	}
	w = norm.NFD.String(strings.ToLower(w))
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, w)
}

// isWhitespace is BERT's whitespace: space, tab, newline, carriage return
// and the Unicode space separators (Zs).
func isWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

// isControl is BERT's control character: categories Cc and Cf, except the
// whitespace among them.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

// isPunctuation is BERT's punctuation: every non-alphanumeric ASCII
// character that is not a space or control, and Unicode category P.
func isPunctuation(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

// isCJK reports a CJK Unified Ideograph (the blocks BERT's tokenizer splits
// into single characters).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
