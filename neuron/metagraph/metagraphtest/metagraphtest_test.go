package metagraphtest

import (
	"testing"
	"time"
)

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("new clock reads %v, want %v", got, start)
	}
	c.Advance(3 * time.Second)
	c.Advance(-time.Second)
	if got, want := c.Now(), start.Add(2*time.Second); !got.Equal(want) || !c.Now().Equal(want) {
		t.Fatalf("after +3s and -1s the clock reads %v, want %v", got, want)
	}
}

func TestLabelKeyIsDrawnFromTheLabel(t *testing.T) {
	a, err := LabelKey("member 1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := LabelKey("member 1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := LabelKey("member 2")
	if err != nil {
		t.Fatal(err)
	}
	if a.PublicHex() != again.PublicHex() {
		t.Fatal("one label gave two keys")
	}
	if a.PublicHex() == other.PublicHex() {
		t.Fatal("two labels gave one key")
	}
}
