package store

import (
	"crypto/sha1"
	"encoding/binary"
	"hash"
	"sort"
)

// Digest returns a 20-byte digest of the whole keyspace: every key with
// its type, value and expiry time. It does not depend on map order, so two
// replicas that applied the same log have the same digest. It is for
// checking replicas against each other (DEBUG DIGEST), not for speed.
func (s *Store) Digest() [20]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sum [20]byte
	h := sha1.New()
	for i := range s.slots {
		for k, e := range s.slots[i].m {
			h.Reset()
			writeString(h, k)
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], uint64(e.expireAt))
			h.Write(buf[:])
			if e.hash != nil {
				h.Write([]byte{'h'})
				fields := make([]string, 0, len(e.hash))
				for f := range e.hash {
					fields = append(fields, f)
				}
				sort.Strings(fields)
				for _, f := range fields {
					writeString(h, f)
					writeString(h, string(e.hash[f]))
				}
			} else {
				h.Write([]byte{'s'})
				writeString(h, string(e.str))
			}
			// XOR makes the result independent of iteration order.
			for j, b := range h.Sum(nil) {
				sum[j] ^= b
			}
		}
	}
	return sum
}

func writeString(h hash.Hash, s string) {
	var buf [binary.MaxVarintLen64]byte
	h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(s)))])
	h.Write([]byte(s))
}
