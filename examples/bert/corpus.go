package bert

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/opentensor/bittensor-go/neuron"
)

// DefaultCorpus is the folder of the default corpus: the fortune cookies of
// Debian's `fortunes` package (some 30,000 quotations, jokes and sayings).
const DefaultCorpus = "/usr/share/games/fortunes"

// Limits of what LoadCorpus reads.
const (
	// maxCorpusBytes bounds the text read from a corpus folder.
	maxCorpusBytes = 512 << 20
	// maxSentenceBytes bounds one sentence; a longer one is cut there (the
	// model reads at most MaxLen tokens of it anyway).
	maxSentenceBytes = 1024
	// sniffBytes is how much of a file decides whether it is text.
	sniffBytes = 4096
)

// Corpus is a text corpus cut into documents and their sentences, in order.
type Corpus struct {
	// Docs[i] holds the sentences of document i in reading order.
	Docs [][]string
}

// Sentences returns the number of sentences in the corpus.
func (c *Corpus) Sentences() int {
	n := 0
	for _, d := range c.Docs {
		n += len(d)
	}
	return n
}

// corpusHint says how to get a corpus.
const corpusHint = "install Debian's fortunes package (`apt-get install fortunes`, which `make setup` does), " +
	"or pass --data_dir with a folder of plain-text files"

// FindCorpus returns the corpus: dataDir (a folder of plain-text files, or
// one such file) when given, else DefaultCorpus. It fails, saying what to
// install, when it is not there.
func FindCorpus(dataDir string) (string, error) {
	path, flag := dataDir, "data_dir"
	if path == "" {
		path, flag = DefaultCorpus, ""
	}
	st, err := os.Stat(path)
	if err != nil || !(st.IsDir() || st.Mode().IsRegular()) {
		return "", &neuron.UsageError{Flag: flag, Err: fmt.Errorf("no corpus folder %s: %s", path, corpusHint)}
	}
	return path, nil
}

// LoadCorpus reads every plain-text file under dir, or dir itself when it
// is a file (following no symbolic links below it, skipping files that
// hold NUL bytes, as binary indexes do). A
// document ends at a blank line or at a line holding only "%" (the fortune
// files' separator); its lines are joined and cut into sentences after '.',
// '!' or '?' followed by a space. Invalid UTF-8 is dropped. It fails when
// the folder yields no document of two sentences.
func LoadCorpus(dir string) (*Corpus, error) {
	c := &Corpus{}
	total := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !(path == dir && !d.IsDir()) {
			return nil
		}
		n, err := c.readFile(path, maxCorpusBytes-total)
		total += n
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if total >= maxCorpusBytes {
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bert: corpus: %w", err)
	}
	pairs := 0
	for _, d := range c.Docs {
		pairs += max(len(d)-1, 0)
	}
	if pairs == 0 {
		return nil, &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf(
			"the corpus in %s has no paragraph of two sentences to learn from: %s", dir, corpusHint)}
	}
	return c, nil
}

// readFile adds the documents of one file, reading at most limit bytes,
// and returns the bytes read.
func (c *Corpus) readFile(path string, limit int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.LimitReader(f, int64(limit)), sniffBytes)
	head, err := r.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return 0, nil // binary
	}
	read := 0
	var doc strings.Builder
	end := func() {
		if s := splitSentences(doc.String()); len(s) > 0 {
			c.Docs = append(c.Docs, s)
		}
		doc.Reset()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		read += len(line) + 1
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 || string(trimmed) == "%" {
			end()
			continue
		}
		doc.WriteByte(' ')
		doc.Write(bytes.ToValidUTF8(trimmed, nil))
	}
	end()
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return read, err
	}
	return read, nil
}

// splitSentences cuts a paragraph into sentences: after '.', '!' or '?'
// (and any closing quotes or brackets) followed by whitespace. Whitespace
// runs become one space; sentences without a letter are dropped.
func splitSentences(text string) []string {
	words := strings.Fields(text)
	var out []string
	var cur strings.Builder
	flush := func() {
		s := cur.String()
		cur.Reset()
		if len(s) > maxSentenceBytes {
			s = strings.ToValidUTF8(s[:maxSentenceBytes], "")
		}
		if strings.IndexFunc(s, unicode.IsLetter) >= 0 {
			out = append(out, s)
		}
	}
	for _, w := range words {
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
		if endsSentence(w) {
			flush()
		}
	}
	if cur.Len() > 0 {
		flush()
	}
	return out
}

// endsSentence reports whether a word ends a sentence.
func endsSentence(w string) bool {
	w = strings.TrimRight(w, "\"')]}»”’")
	r, _ := utf8.DecodeLastRuneInString(w)
	return r == '.' || r == '!' || r == '?'
}
