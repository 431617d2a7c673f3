package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// FuzzRestore feeds Restore arbitrary bytes: it must refuse them with an
// error wrapping ErrCorruptSnapshot and leave the store as it was, or
// accept them and then hold a store whose counters are right and which
// survives its own snapshot round trip. Each input is also tried with its
// last four bytes replaced by the right checksum, so that the fuzzer can
// reach the decoder behind the checksum.
func FuzzRestore(f *testing.F) {
	small := New()
	mustApply(f, small, 1000,
		argv("SET", "a", "1", "EX", "10"),
		argv("SET", "b", ""),
		argv("HSET", "h", "f", "v", "g", "w"),
		argv("SET", "{h}x", "same slot as h"),
		argv("SET", "n", "42"), argv("APPEND", "r", "raw"), argv("DEL", "gone"), argv("SET", "gone", "x"),
		argv("DEL", "gone"), argv("HSET", "big", "f", strings.Repeat("x", 70)),
	)
	f.Add(snapshotBytes(f, small))
	f.Add(snapshotBytes(f, New()))
	f.Add([]byte("RCSN"))
	f.Add([]byte("not a snapshot at all"))
	f.Add(sealed(rec(header(), slotOf("h"), hashEntry("h", 0, "f", "1", "f", "2"))))
	f.Add(sealed(rec(header(), slotOf("a"), strEntry("a", 0, "1"), strEntry("a", 0, "1"))))
	f.Add(sealed(rec(headerWith(100, 5, 7, 9, 100), slotOf("n"), strEntryMeta("n", 0, "42", meta{3, 999, encIntShared}))))

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, reseal(data)} {
			s := target(t)
			before := dump(s)
			err := s.Restore(bytes.NewReader(b))
			if err != nil {
				if !errors.Is(err, ErrCorruptSnapshot) {
					t.Fatalf("error %q does not wrap ErrCorruptSnapshot", err)
				}
				if after := dump(s); !before.equal(after) {
					t.Fatalf("a refused snapshot changed the store: %s", before.diff(after))
				}
				continue
			}
			checkCounts(t, s)
			want := dump(s)
			if got := dump(restored(t, snapshotBytes(t, s))); !want.equal(got) {
				t.Fatalf("accepted snapshot does not round-trip: %s", want.diff(got))
			}
		}
	})
}

// reseal replaces the last four bytes of b with the checksum of the rest.
func reseal(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	body := b[:len(b)-4]
	return binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, crcTable))
}
