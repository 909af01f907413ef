package bert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/torch"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCorpus(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "fortunes"), "A day for firm decisions!!  Or is it?\n%\nOne line only.\n%\n"+
		"First \xffline\nwraps here. \"Quoted end.\" Third (one)?\n\nNew paragraph. 42.\n")
	writeFile(t, filepath.Join(dir, "fortunes.dat"), "\x00\x00\x00\x02binary index. Not text.")
	if err := os.Symlink(filepath.Join(dir, "fortunes"), filepath.Join(dir, "fortunes.u8")); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	one, err := LoadCorpus(filepath.Join(dir, "fortunes"))
	if err != nil || len(one.Docs) != len(c.Docs) {
		t.Errorf("the file alone gave %v, %v; want the same %d documents", one, err, len(c.Docs))
	}
	want := [][]string{
		{"A day for firm decisions!!", "Or is it?"},
		{"One line only."},
		{"First line wraps here.", "\"Quoted end.\"", "Third (one)?"},
		{"New paragraph."}, // "42." has no letter
	}
	if len(c.Docs) != len(want) {
		t.Fatalf("documents %q, want %q", c.Docs, want)
	}
	for i := range want {
		if !slices.Equal(c.Docs[i], want[i]) {
			t.Errorf("document %d is %q, want %q", i, c.Docs[i], want[i])
		}
	}
}

func TestCorpusErrors(t *testing.T) {
	var ue *neuron.UsageError
	_, err := FindCorpus(filepath.Join(t.TempDir(), "missing"))
	if !errors.As(err, &ue) || ue.Flag != "data_dir" || !strings.Contains(err.Error(), "fortunes") {
		t.Errorf("a missing --data_dir gave %v, want a --data_dir usage error that says what to install", err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "one.txt"), "Only one sentence per paragraph.\n\nAnother one here.\n")
	if _, err := LoadCorpus(dir); !errors.As(err, &ue) {
		t.Errorf("a corpus without a two-sentence paragraph gave %v, want a usage error", err)
	}
}

// fakeCorpus has docs documents of sents sentences "d<i> s<j>.".
func fakeCorpus(docs, sents int) *Corpus {
	c := &Corpus{}
	for i := range docs {
		var d []string
		for j := range sents {
			d = append(d, "d"+string(rune('a'+i))+" s"+string(rune('a'+j))+".")
		}
		c.Docs = append(c.Docs, d)
	}
	return c
}

func collect(t *testing.T, p *Pairs, epoch int) (texts []string, labels []int64) {
	t.Helper()
	for b := range p.Epoch(context.Background(), epoch) {
		texts = append(texts, b.Text...)
		l, err := b.Targets.Int64s()
		if err != nil {
			t.Fatal(err)
		}
		labels = append(labels, l...)
		if b.Inputs.Size(0) != int64(len(b.Text)) {
			t.Fatalf("inputs of %d rows for %d texts", b.Inputs.Size(0), len(b.Text))
		}
	}
	return texts, labels
}

func TestPairs(t *testing.T) {
	c := fakeCorpus(20, 5)
	tok := func(batch []string) (*torch.Tensor, error) { return torch.Zeros([]int64{int64(len(batch)), 2, 4}), nil }
	p, err := NewPairs(c, tok, 7, true, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Examples() != 80 || p.Len() != 12 {
		t.Fatalf("%d pairs in %d batches, want 80 in 12", p.Examples(), p.Len())
	}
	texts, labels := collect(t, p, 0)
	pos := 0
	for i, s := range texts {
		a, b, _ := strings.Cut(s, "\n")
		sameDoc := a[:2] == b[:2]
		next := sameDoc && b[4] == a[4]+1
		switch labels[i] {
		case IsNext:
			pos++
			if !next {
				t.Errorf("pair %q labelled IsNext", s)
			}
		case NotNext:
			if sameDoc {
				t.Errorf("negative pair %q from one document", s)
			}
		}
	}
	if pos < 25 || pos > 55 {
		t.Errorf("%d positives of 80, want about half", pos)
	}
	again, _ := collect(t, p, 0)
	other, _ := collect(t, p, 1)
	if !slices.Equal(texts, again) || slices.Equal(texts, other) {
		t.Error("an epoch's pairs are not drawn from (seed, epoch) alone")
	}

	test, err := NewPairs(c, tok, 7, false, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	t0, _ := collect(t, test, 0)
	t1, _ := collect(t, test, 3)
	if len(t0) != 10 || !slices.Equal(t0, t1) {
		t.Errorf("held-out pairs: %d, the same every epoch: %v; want 10, true", len(t0), slices.Equal(t0, t1))
	}

	train, held := fakeCorpus(30, 2).Split()
	if len(held.Docs) != 3 || len(train.Docs) != 27 {
		t.Errorf("split %d/%d documents, want 27/3", len(train.Docs), len(held.Docs))
	}
	for _, d := range held.Docs {
		for _, e := range train.Docs {
			if slices.Equal(d, e) {
				t.Errorf("document %q is in both halves", d)
			}
		}
	}
}

// A consumer that stops early leaves no batch unfreed: those prepared
// ahead and never taken are freed before the range returns.
func TestPairsFreeTheBatchesNotTaken(t *testing.T) {
	var made []*torch.Tensor // on the preparing goroutine, read after the range returns
	tok := func(batch []string) (*torch.Tensor, error) {
		x := torch.Zeros([]int64{int64(len(batch)), 2, 4})
		made = append(made, x)
		return x, nil
	}
	p, err := NewPairs(fakeCorpus(20, 5), tok, 2, true, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for b := range p.Epoch(context.Background(), 0) {
		b.Inputs.Free()
		b.Targets.Free()
		break
	}
	if len(made) < 2 {
		t.Fatalf("%d batches made, want some prepared ahead of the one taken", len(made))
	}
	for i, x := range made {
		if !errors.Is(x.Err(), torch.ErrFreed) {
			t.Errorf("batch %d of %d made is not freed: %v", i, len(made), x.Err())
		}
	}
}

// FuzzLoadCorpus checks that any file loads to valid UTF-8 sentences of
// bounded size, each with a letter, or fails with an error.
func FuzzLoadCorpus(f *testing.F) {
	for _, s := range []string{"A b. C d!\n%\nE f?\n\nG.", "\x00binary", "\xff\xfe. x. y.", strings.Repeat("long ", 500) + ". b."} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "text")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadCorpus(path)
		if err != nil {
			return
		}
		for _, d := range c.Docs {
			for _, s := range d {
				if !utf8.ValidString(s) || len(s) > maxSentenceBytes || strings.IndexFunc(s, unicode.IsLetter) < 0 {
					t.Fatalf("sentence %q", s)
				}
			}
		}
	})
}
