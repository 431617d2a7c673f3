package store

import "encoding/binary"

// A small hash (encoding listpack) is stored as its record's value, in the
// order Redis's listpack keeps it: new fields at the end, a changed field
// where it was, a deleted one closed up.
//
//	count uvarint, then count times: flen uvarint, field, vlen uvarint, value
//
// Every change rewrites the value (a listpack holds at most
// hashMaxListpackEntry fields of at most hashMaxListpackValue bytes, so at
// most about 17 KiB), as Redis rewrites its listpack.

// lpLen returns the number of fields of the listpack b.
func lpLen(b []byte) int {
	n, _ := uvarintAt(b, 0)
	return n
}

// lpIter walks a listpack's fields in order.
type lpIter struct {
	b    []byte
	i    int
	left int
}

func lpIterate(b []byte) lpIter {
	n, i := uvarintAt(b, 0)
	return lpIter{b: b, i: i, left: n}
}

// next returns the next field and value, aliasing the listpack.
func (it *lpIter) next() (field, value []byte, ok bool) {
	if it.left == 0 {
		return nil, nil, false
	}
	it.left--
	fl, i := uvarintAt(it.b, it.i)
	field = it.b[i : i+fl : i+fl]
	vl, i := uvarintAt(it.b, i+fl)
	value = it.b[i : i+vl : i+vl]
	it.i = i + vl
	return field, value, true
}

// lpGet returns the value of field.
func lpGet(b, field []byte) ([]byte, bool) {
	it := lpIterate(b)
	for f, v, ok := it.next(); ok; f, v, ok = it.next() {
		if string(f) == string(field) {
			return v, true
		}
	}
	return nil, false
}

// pair is one field of a hash; its slices may alias the heap. large says
// the value is in a large chunk, which a reply may alias (bulkValue).
type pair struct {
	field, value []byte
	large        bool
}

// lpDecode appends the fields of b to dst.
func lpDecode(dst []pair, b []byte) []pair {
	it := lpIterate(b)
	for f, v, ok := it.next(); ok; f, v, ok = it.next() {
		dst = append(dst, pair{field: f, value: v})
	}
	return dst
}

// lpEncode appends the listpack of pairs to dst.
func lpEncode(dst []byte, pairs []pair) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(pairs)))
	for _, p := range pairs {
		dst = binary.AppendUvarint(dst, uint64(len(p.field)))
		dst = append(dst, p.field...)
		dst = binary.AppendUvarint(dst, uint64(len(p.value)))
		dst = append(dst, p.value...)
	}
	return dst
}

// fitsListpack reports whether a field and value may stay in a listpack.
func fitsListpack(field, value []byte) bool {
	return len(field) <= hashMaxListpackValue && len(value) <= hashMaxListpackValue
}
