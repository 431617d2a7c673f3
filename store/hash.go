package store

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("hset", cmdHSet)
	register("hmset", cmdHSet)
	register("hsetnx", cmdHSetNX)
	register("hget", cmdHGet)
	register("hmget", cmdHMGet)
	register("hdel", cmdHDel)
	register("hgetall", func(x exec, a [][]byte) resp.Reply { return x.hashList(a[1], true, true) })
	register("hkeys", func(x exec, a [][]byte) resp.Reply { return x.hashList(a[1], true, false) })
	register("hvals", func(x exec, a [][]byte) resp.Reply { return x.hashList(a[1], false, true) })
	register("hexists", cmdHExists)
	register("hlen", cmdHLen)
	register("hstrlen", cmdHStrlen)
	register("hincrby", cmdHIncrBy)
	register("hincrbyfloat", cmdHIncrByFloat)
	register("hrandfield", cmdHRandField)
}

// hashRead returns the hash at key for reading: false and no error when
// the key is missing, WRONGTYPE when it holds a string.
func (x *exec) hashRead(key []byte) (obj, bool, *resp.Error) {
	o, ok := x.lookup(key)
	if ok && !o.isHash() {
		return o, false, resp.ErrWrongType
	}
	return o, ok, nil
}

// hget returns the value of field in the hash o.
func (x *exec) hget(o *obj, field []byte) ([]byte, bool) {
	v, ok, _ := x.hgetLarge(o, field)
	return v, ok
}

// hgetLarge is hget that also says whether the value is in a large chunk.
func (x *exec) hgetLarge(o *obj, field []byte) (v []byte, ok, large bool) {
	if o.enc == encListpack {
		v, ok = lpGet(o.val(), field)
		return v, ok, false
	}
	bh := x.s.bigOf(o)
	pos, v := x.s.bigFind(bh, field)
	if pos < 0 {
		return nil, false, false
	}
	return v, true, bh.t.ref(pos)&refLarge != 0
}

// hlen returns the number of fields of the hash o.
func (x *exec) hlen(o *obj) int {
	if o.enc == encListpack {
		return lpLen(o.val())
	}
	return x.s.bigOf(o).len()
}

// hashPairs appends the fields of the hash o to dst, in the hash's order:
// insertion order for a listpack, as Redis answers. The pairs alias the
// heap.
func (x *exec) hashPairs(dst []pair, o *obj) []pair {
	if o.enc == encListpack {
		return lpDecode(dst, o.val())
	}
	return bigPairs(dst, x.s.heap, x.s.bigOf(o))
}

// hashSize bounds the bytes of the fields and values of the hash o.
func (x *exec) hashSize(o *obj) int {
	if o.enc == encListpack {
		return len(o.val())
	}
	return int(x.s.bigOf(o).bytes)
}

// hashWritable returns the hash at key for a write: found false when the
// key is missing (o then carries the key's place for hashSet), WRONGTYPE
// when it holds a string.
func (x *exec) hashWritable(key []byte) (obj, bool, *resp.Error) {
	o, ok := x.lookupWrite(key)
	if ok && !o.isHash() {
		return o, false, resp.ErrWrongType
	}
	return o, ok, nil
}

// hashSet sets the fields kv (field, value, field, value ...) of the hash
// at key (o: found, else created), converting a listpack to a hashtable as
// Redis does once a field or value outgrows hashMaxListpackValue or the
// hash outgrows hashMaxListpackEntry fields, and stamps the key as
// changed. It returns the number of fields added.
func (x *exec) hashSet(o *obj, found bool, key []byte, kv [][]byte) int {
	s := x.s
	added := 0
	if found && o.enc == encHashtable {
		bh := x.ownBig(o, key)
		for i := 0; i < len(kv); i += 2 {
			if s.bigSet(bh, kv[i], kv[i+1]) {
				added++
			}
		}
		x.touch(o, key)
		return added
	}
	var expireAt int64
	pairs := s.pairs[:0]
	if found {
		expireAt = o.expireAt
		pairs = lpDecode(pairs, o.val())
	}
	i := 0
	for ; i < len(kv); i += 2 {
		f, v := kv[i], kv[i+1]
		if !fitsListpack(f, v) {
			break
		}
		j := 0
		for j < len(pairs) && string(pairs[j].field) != string(f) {
			j++
		}
		if j < len(pairs) {
			pairs[j].value = v
			continue
		}
		if len(pairs) == hashMaxListpackEntry {
			break
		}
		pairs = append(pairs, pair{field: f, value: v})
		added++
	}
	defer func() { s.pairs = pairs[:0] }()
	if i == len(kv) {
		s.scratch = lpEncode(s.scratch[:0], pairs)
		x.put(o, key, encListpack, expireAt, s.scratch)
		return added
	}
	// Convert: the listpack's fields (which alias o's record, untouched
	// until put) go to a new large hash, then the rest of kv.
	bh := &bigHash{}
	for _, p := range pairs {
		s.bigSet(bh, p.field, p.value)
	}
	for ; i < len(kv); i += 2 {
		if s.bigSet(bh, kv[i], kv[i+1]) {
			added++
		}
	}
	id := s.newBig(bh)
	x.put(o, key, encHashtable, expireAt, idBytes(id))
	return added
}

func idBytes(id uint32) []byte { return binary.LittleEndian.AppendUint32(nil, id) }

// ownBig returns the large hash of the present record o ready to be
// changed: when a live snapshot may read it, a clone under a new id, which
// o then holds.
func (x *exec) ownBig(o *obj, key []byte) *bigHash {
	s := x.s
	bh := s.bigOf(o)
	if !s.bigShared(bh) {
		return bh
	}
	c := &bigHash{t: bh.t.clone(), bytes: bh.bytes}
	id := s.newBig(c)
	s.releaseBig(bigID(o), true)
	x.put(o, key, encHashtable, o.expireAt, idBytes(id))
	return c
}

func cmdHSet(x exec, a [][]byte) resp.Reply {
	if len(a)%2 != 0 {
		return resp.ErrWrongArgs(string(a[0])).Reply()
	}
	o, found, err := x.hashWritable(a[1])
	if err != nil {
		return err.Reply()
	}
	added := x.hashSet(&o, found, a[1], a[2:])
	if resp.EqualFold(a[0], "hmset") {
		return resp.OK
	}
	return resp.Int(int64(added))
}

func cmdHSetNX(x exec, a [][]byte) resp.Reply {
	o, found, err := x.hashWritable(a[1])
	if err != nil {
		return err.Reply()
	}
	if found {
		if _, ok := x.hget(&o, a[2]); ok {
			return resp.Zero
		}
	}
	x.hashSet(&o, found, a[1], a[2:4])
	return resp.One
}

func cmdHGet(x exec, a [][]byte) resp.Reply {
	o, found, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	if !found {
		return resp.Null
	}
	v, ok, large := x.hgetLarge(&o, a[2])
	if !ok {
		return resp.Null
	}
	return bulkValue(v, large)
}

func cmdHMGet(x exec, a [][]byte) resp.Reply {
	o, found, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	elems := make([]resp.Reply, len(a)-2)
	for i, f := range a[2:] {
		elems[i] = resp.Null
		if found {
			if v, ok, large := x.hgetLarge(&o, f); ok {
				elems[i] = bulkValue(v, large)
			}
		}
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
}

func cmdHDel(x exec, a [][]byte) resp.Reply {
	o, found, err := x.hashWritable(a[1])
	if err != nil {
		return err.Reply()
	}
	if !found {
		return resp.Zero
	}
	s := x.s
	var n int64
	if o.enc == encHashtable {
		bh := x.ownBig(&o, a[1])
		for _, f := range a[2:] {
			if s.bigDel(bh, f) {
				n++
			}
		}
		switch {
		case bh.len() == 0:
			s.remove(&o)
		case n > 0:
			x.touch(&o, a[1])
		}
		return resp.Int(n)
	}
	pairs := lpDecode(s.pairs[:0], o.val())
	defer func() { s.pairs = pairs[:0] }()
	for _, f := range a[2:] {
		for j := range pairs {
			if string(pairs[j].field) == string(f) {
				pairs = append(pairs[:j], pairs[j+1:]...)
				n++
				break
			}
		}
	}
	switch {
	case len(pairs) == 0:
		s.remove(&o)
	case n > 0:
		s.scratch = lpEncode(s.scratch[:0], pairs)
		x.put(&o, a[1], encListpack, o.expireAt, s.scratch)
	}
	return resp.Int(n)
}

// hashList serves HGETALL (a map of fields and values), HKEYS and HVALS
// (arrays), in the hash's order.
func (x *exec) hashList(key []byte, fields, values bool) resp.Reply {
	o, found, err := x.hashRead(key)
	if err != nil {
		return err.Reply()
	}
	if !found {
		if fields && values {
			return resp.Reply{Kind: resp.KindMap, Elems: []resp.Reply{}}
		}
		return resp.Reply{Kind: resp.KindArray, Elems: []resp.Reply{}}
	}
	pairs := x.hashPairs(nil, &o)
	n := len(pairs)
	if fields && values {
		n *= 2
	}
	elems := make([]resp.Reply, 0, n)
	buf := newReplyBuf(x.hashSize(&o))
	for _, p := range pairs {
		if fields {
			elems = append(elems, buf.bulk(p.field))
		}
		if values {
			elems = append(elems, buf.value(p.value, p.large))
		}
	}
	if fields && values {
		return resp.Reply{Kind: resp.KindMap, Elems: elems}
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
}

func cmdHExists(x exec, a [][]byte) resp.Reply {
	o, found, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	if !found {
		return resp.Zero
	}
	_, ok := x.hget(&o, a[2])
	return resp.IntBool(ok)
}

func cmdHLen(x exec, a [][]byte) resp.Reply {
	o, found, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	if !found {
		return resp.Zero
	}
	return resp.Int(int64(x.hlen(&o)))
}

func cmdHStrlen(x exec, a [][]byte) resp.Reply {
	o, found, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	if !found {
		return resp.Zero
	}
	v, _ := x.hget(&o, a[2])
	return resp.Int(int64(len(v)))
}

// cmdHIncrBy checks the increment before the key, as Redis does; a missing
// key is created only once the result is known.
func cmdHIncrBy(x exec, a [][]byte) resp.Reply {
	incr, ok := resp.ParseInt(a[3])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	o, found, err := x.hashWritable(a[1])
	if err != nil {
		return err.Reply()
	}
	var cur int64
	if found {
		if v, exists := x.hget(&o, a[2]); exists {
			if cur, ok = resp.ParseInt(v); !ok {
				return resp.ErrHashNotInteger.Reply()
			}
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		return resp.ErrOverflow.Reply()
	}
	cur += incr
	x.hashSet(&o, found, a[1], [][]byte{a[2], strconv.AppendInt(nil, cur, 10)})
	return resp.Int(cur)
}

// cmdHIncrByFloat checks the increment before the key, as Redis does (see
// resp.HIncrByFloat).
func cmdHIncrByFloat(x exec, a [][]byte) resp.Reply {
	if _, err := resp.HIncrByFloat(nil, a[3]); err != nil {
		return err.Reply()
	}
	o, found, err := x.hashWritable(a[1])
	if err != nil {
		return err.Reply()
	}
	var cur []byte
	if found {
		if v, exists := x.hget(&o, a[2]); exists {
			cur = v
		}
	}
	val, err := resp.HIncrByFloat(cur, a[3])
	if err != nil {
		return err.Reply()
	}
	x.hashSet(&o, found, a[1], [][]byte{a[2], val})
	return resp.Reply{Kind: resp.KindBulk, Str: val}
}

// maxRandFieldCount bounds the reply of HRANDFIELD with a negative count
// (fields may repeat, so the hash does not bound it). Redis builds any
// size and runs out of memory on -9223372036854775807; raftcache answers
// Redis's error for a count too large to reply instead.
const maxRandFieldCount = 1 << 22

// cmdHRandField is a read: its randomness never reaches the log. A
// positive count returns distinct fields (all of them when the count is
// not smaller than the hash), a negative one samples with repeats.
//
// With WITHVALUES, Redis replies a flat field, value array in RESP2 and an
// array of [field, value] pairs in RESP3; resp has no reply kind that
// folds that way yet, so raftcache sends the RESP2 form to both (see
// pairsReply).
func cmdHRandField(x exec, a [][]byte) resp.Reply {
	if len(a) == 2 {
		o, found, err := x.hashRead(a[1])
		if err != nil {
			return err.Reply()
		}
		if !found {
			return resp.Null
		}
		pairs := x.hashPairs(nil, &o)
		return bulkCopy(pairs[rand.IntN(len(pairs))].field)
	}
	count, ok := resp.ParseInt(a[2])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	if count == math.MinInt64 {
		return resp.ErrValueBetween(-math.MaxInt64, math.MaxInt64).Reply()
	}
	withValues := false
	if len(a) > 4 || (len(a) == 4 && !resp.EqualFold(a[3], "withvalues")) {
		return resp.ErrSyntax.Reply()
	}
	if len(a) == 4 {
		withValues = true
		if count < -math.MaxInt64/2 || count > math.MaxInt64/2 {
			return resp.ErrValueOutOfRange.Reply()
		}
	}
	o, found, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	if !found || count == 0 {
		return resp.EmptyArr
	}
	if count < 0 && -count > maxRandFieldCount {
		return resp.ErrValueOutOfRange.Reply()
	}
	pairs := x.hashPairs(nil, &o)
	var picked []pair
	switch {
	case count < 0:
		picked = make([]pair, -count)
		for i := range picked {
			picked[i] = pairs[rand.IntN(len(pairs))]
		}
	case count >= int64(len(pairs)):
		picked = pairs
	case o.enc == encListpack:
		// As Redis's lpRandomPairsUnique: count distinct fields, in the
		// listpack's order (selection sampling).
		need := int(count)
		for i, p := range pairs {
			if rand.IntN(len(pairs)-i) < need {
				picked = append(picked, p)
				need--
			}
		}
	default:
		// A partial Fisher-Yates shuffle picks count distinct fields.
		for i := range int(count) {
			j := i + rand.IntN(len(pairs)-i)
			pairs[i], pairs[j] = pairs[j], pairs[i]
		}
		picked = pairs[:count]
	}
	size := 0
	for _, p := range picked {
		size += len(p.field)
		if withValues {
			size += len(p.value)
		}
	}
	buf := newReplyBuf(size)
	if !withValues {
		elems := make([]resp.Reply, len(picked))
		for i, p := range picked {
			elems[i] = buf.bulk(p.field)
		}
		return resp.Reply{Kind: resp.KindArray, Elems: elems}
	}
	elems := make([]resp.Reply, 0, 2*len(picked))
	for _, p := range picked {
		elems = append(elems, buf.bulk(p.field), buf.value(p.value, p.large))
	}
	return pairsReply(elems)
}

// pairsReply is the reply of commands that Redis answers with a flat
// array in RESP2 and an array of 2-element arrays in RESP3 (HRANDFIELD
// WITHVALUES). Until resp has a reply kind that encodes that way, it is
// the flat RESP2 array for both protocols.
func pairsReply(flat []resp.Reply) resp.Reply {
	return resp.Reply{Kind: resp.KindArray, Elems: flat}
}
