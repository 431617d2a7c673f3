package store

import (
	"fmt"
	"testing"
)

func TestCRC16(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint16
	}{
		// The test vector of the Redis Cluster specification.
		{"123456789", 0x31C3},
		{"", 0},
		{"a", 0x7C87},
		{"foo", 0xAF96},
	} {
		if got := CRC16([]byte(c.in)); got != c.want {
			t.Errorf("CRC16(%q) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestSlotOf(t *testing.T) {
	slot := func(s string) int { return int(CRC16([]byte(s)) % NumSlots) }
	for _, c := range []struct {
		key  string
		want int
	}{
		{"123456789", 12739},
		{"", 0},
		{"foo", 12182}, // CLUSTER KEYSLOT foo
		{"bar", 5061},  // CLUSTER KEYSLOT bar
		{"{user1000}.following", slot("user1000")},
		{"{user1000}.followers", slot("user1000")},
		// An empty tag: the whole key is hashed.
		{"foo{}{bar}", slot("foo{}{bar}")},
		{"{}", slot("{}")},
		// The tag runs from the first '{' to the first '}' after it.
		{"foo{{bar}}zap", slot("{bar")},
		{"foo{bar}{zap}", slot("bar")},
		{"foo{bar}", slot("bar")},
		{"{bar}", slot("bar")},
		{"x{a}y{b}", slot("a")},
		// No closing brace: the whole key.
		{"foo{bar", slot("foo{bar")},
		{"foo}bar{", slot("foo}bar{")},
		{"{", slot("{")},
		{"}{x}", slot("x")},
	} {
		if got := SlotOf([]byte(c.key)); got != c.want {
			t.Errorf("SlotOf(%q) = %d, want %d", c.key, got, c.want)
		}
	}
	if SlotOf([]byte("{user1000}.following")) != SlotOf([]byte("{user1000}.followers")) {
		t.Error("keys with the same hash tag in different slots")
	}
	if SlotOf([]byte("foo{}{bar}")) == SlotOf([]byte("bar")) {
		t.Error("an empty tag must not select the next tag")
	}
}

func TestSlotOfRange(t *testing.T) {
	seen := map[int]bool{}
	for i := range 100000 {
		s := SlotOf(fmt.Appendf(nil, "key:%d", i))
		if s < 0 || s >= NumSlots {
			t.Fatalf("slot %d out of range", s)
		}
		seen[s] = true
	}
	if len(seen) < NumSlots*9/10 {
		t.Fatalf("100000 keys fell into only %d slots", len(seen))
	}
}

func BenchmarkSlotOf(b *testing.B) {
	key := []byte("{user1000}.following")
	b.ReportAllocs()
	for b.Loop() {
		SlotOf(key)
	}
}
