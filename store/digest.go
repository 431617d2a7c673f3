package store

import (
	"crypto/sha1"
	"encoding/binary"
	"hash"
	"sort"
)

// Digest returns a 20-byte digest of the whole keyspace: every key with
// its type, value and expiry time, and the order of a listpack hash's
// fields (replicated state: HGETALL answers in it). It does not depend on
// table order, so two replicas that applied the same log have the same
// digest. It is for checking replicas against each other (DEBUG DIGEST),
// not for speed.
func (s *Store) Digest() [20]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sum [20]byte
	h := sha1.New()
	x := exec{s: s}
	for i := range s.slots {
		s.eachKey(i, func(o *obj) bool {
			h.Reset()
			writeString(h, o.key())
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], uint64(o.expireAt))
			h.Write(buf[:])
			switch o.enc {
			case encListpack:
				h.Write([]byte{'l'})
				for _, p := range x.hashPairs(nil, o) {
					writeString(h, p.field)
					writeString(h, p.value)
				}
			case encHashtable:
				h.Write([]byte{'h'})
				pairs := x.hashPairs(nil, o)
				sort.Slice(pairs, func(i, j int) bool { return string(pairs[i].field) < string(pairs[j].field) })
				for _, p := range pairs {
					writeString(h, p.field)
					writeString(h, p.value)
				}
			default:
				h.Write([]byte{'s'})
				writeString(h, o.val())
			}
			// XOR makes the result independent of iteration order.
			for j, b := range h.Sum(nil) {
				sum[j] ^= b
			}
			return true
		})
	}
	return sum
}

func writeString(h hash.Hash, s []byte) {
	var buf [binary.MaxVarintLen64]byte
	h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(s)))])
	h.Write(s)
}
