package store

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("hset", true, cmdHSet)
	register("hmset", true, cmdHSet)
	register("hsetnx", true, cmdHSetNX)
	register("hget", false, cmdHGet)
	register("hmget", false, cmdHMGet)
	register("hdel", true, cmdHDel)
	register("hgetall", false, func(x exec, a [][]byte) resp.Reply { return x.hashList(a[1], true, true) })
	register("hkeys", false, func(x exec, a [][]byte) resp.Reply { return x.hashList(a[1], true, false) })
	register("hvals", false, func(x exec, a [][]byte) resp.Reply { return x.hashList(a[1], false, true) })
	register("hexists", false, cmdHExists)
	register("hlen", false, cmdHLen)
	register("hstrlen", false, cmdHStrlen)
	register("hincrby", true, cmdHIncrBy)
	register("hincrbyfloat", true, cmdHIncrByFloat)
	register("hrandfield", false, cmdHRandField)
}

// hashRead returns the hash at key for reading: nil and no error when the
// key is missing, WRONGTYPE when it holds a string.
func (x *exec) hashRead(key []byte) (map[string][]byte, *resp.Error) {
	e := x.lookup(key)
	if e == nil {
		return nil, nil
	}
	if !e.isHash() {
		return nil, resp.ErrWrongType
	}
	return e.hash, nil
}

// hashWrite returns the owned entry of the hash at key, creating an empty
// one when create is set and the key is missing. A caller that creates
// must leave the hash non-empty.
func (x *exec) hashWrite(key []byte, create bool) (*entry, *resp.Error) {
	e := x.lookupWrite(key)
	if e == nil {
		if !create {
			return nil, nil
		}
		e = &entry{hash: make(map[string][]byte), enc: encListpack}
		x.insert(key, e)
		return e, nil
	}
	if !e.isHash() {
		return nil, resp.ErrWrongType
	}
	return e, nil
}

// hashSet stores one field of the owned hash e, converting the encoding
// as Redis does when a field or value outgrows the listpack; the caller
// checks the number of fields once it is done.
func hashSet(e *entry, field, value []byte) (added bool) {
	if len(field) > hashMaxListpackValue || len(value) > hashMaxListpackValue {
		e.enc = encHashtable
	}
	_, exists := e.hash[string(field)]
	e.hash[string(field)] = clone(value)
	return !exists
}

// hashGrown converts e to a hash table once it holds more fields than a
// listpack may.
func hashGrown(e *entry) {
	if len(e.hash) > hashMaxListpackEntry {
		e.enc = encHashtable
	}
}

func cmdHSet(x exec, a [][]byte) resp.Reply {
	if len(a)%2 != 0 {
		return resp.ErrWrongArgs(string(a[0])).Reply()
	}
	e, err := x.hashWrite(a[1], true)
	if err != nil {
		return err.Reply()
	}
	var added int64
	for i := 2; i < len(a); i += 2 {
		if hashSet(e, a[i], a[i+1]) {
			added++
		}
	}
	hashGrown(e)
	x.changed(e)
	if resp.EqualFold(a[0], "hmset") {
		return resp.OK
	}
	return resp.Int(added)
}

func cmdHSetNX(x exec, a [][]byte) resp.Reply {
	e, err := x.hashWrite(a[1], false)
	if err != nil {
		return err.Reply()
	}
	if e != nil {
		if _, ok := e.hash[string(a[2])]; ok {
			return resp.Zero
		}
	} else {
		e, _ = x.hashWrite(a[1], true)
	}
	hashSet(e, a[2], a[3])
	hashGrown(e)
	x.changed(e)
	return resp.One
}

func cmdHGet(x exec, a [][]byte) resp.Reply {
	h, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	v, ok := h[string(a[2])]
	if !ok {
		return resp.Null
	}
	return resp.Reply{Kind: resp.KindBulk, Str: v}
}

func cmdHMGet(x exec, a [][]byte) resp.Reply {
	h, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	elems := make([]resp.Reply, len(a)-2)
	for i, f := range a[2:] {
		elems[i] = resp.Null
		if v, ok := h[string(f)]; ok {
			elems[i] = resp.Reply{Kind: resp.KindBulk, Str: v}
		}
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
}

func cmdHDel(x exec, a [][]byte) resp.Reply {
	e, err := x.hashWrite(a[1], false)
	if err != nil {
		return err.Reply()
	}
	if e == nil {
		return resp.Zero
	}
	var n int64
	for _, f := range a[2:] {
		if _, ok := e.hash[string(f)]; ok {
			delete(e.hash, string(f))
			n++
		}
	}
	if len(e.hash) == 0 {
		x.s.remove(SlotOf(a[1]), a[1])
	} else if n > 0 {
		x.changed(e)
	}
	return resp.Int(n)
}

// hashList serves HGETALL (a map of fields and values), HKEYS and HVALS
// (arrays), in the map's order.
func (x *exec) hashList(key []byte, fields, values bool) resp.Reply {
	h, err := x.hashRead(key)
	if err != nil {
		return err.Reply()
	}
	n := len(h)
	if fields && values {
		n *= 2
	}
	elems := make([]resp.Reply, 0, n)
	for f, v := range h {
		if fields {
			elems = append(elems, resp.BulkString(f))
		}
		if values {
			elems = append(elems, resp.Reply{Kind: resp.KindBulk, Str: v})
		}
	}
	if fields && values {
		return resp.Reply{Kind: resp.KindMap, Elems: elems}
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
}

func cmdHExists(x exec, a [][]byte) resp.Reply {
	h, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	_, ok := h[string(a[2])]
	return resp.IntBool(ok)
}

func cmdHLen(x exec, a [][]byte) resp.Reply {
	h, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	return resp.Int(int64(len(h)))
}

func cmdHStrlen(x exec, a [][]byte) resp.Reply {
	h, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	return resp.Int(int64(len(h[string(a[2])])))
}

// cmdHIncrBy checks the increment before the key, as Redis does; a missing
// key is created only once the result is known.
func cmdHIncrBy(x exec, a [][]byte) resp.Reply {
	incr, ok := resp.ParseInt(a[3])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	e, err := x.hashWrite(a[1], false)
	if err != nil {
		return err.Reply()
	}
	var cur int64
	if e != nil {
		if v, exists := e.hash[string(a[2])]; exists {
			if cur, ok = resp.ParseInt(v); !ok {
				return resp.ErrHashNotInteger.Reply()
			}
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		return resp.ErrOverflow.Reply()
	}
	cur += incr
	if e == nil {
		e, _ = x.hashWrite(a[1], true)
	}
	hashSet(e, a[2], strconv.AppendInt(nil, cur, 10))
	hashGrown(e)
	x.changed(e)
	return resp.Int(cur)
}

// cmdHIncrByFloat checks the increment before the key, as Redis does (see
// resp.HIncrByFloat).
func cmdHIncrByFloat(x exec, a [][]byte) resp.Reply {
	if _, err := resp.HIncrByFloat(nil, a[3]); err != nil {
		return err.Reply()
	}
	e, err := x.hashWrite(a[1], false)
	if err != nil {
		return err.Reply()
	}
	var cur []byte
	if e != nil {
		if v, exists := e.hash[string(a[2])]; exists {
			cur = v
			if cur == nil {
				cur = []byte{}
			}
		}
	}
	val, err := resp.HIncrByFloat(cur, a[3])
	if err != nil {
		return err.Reply()
	}
	if e == nil {
		e, _ = x.hashWrite(a[1], true)
	}
	hashSet(e, a[2], val)
	hashGrown(e)
	x.changed(e)
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
		h, err := x.hashRead(a[1])
		if err != nil {
			return err.Reply()
		}
		if h == nil {
			return resp.Null
		}
		for f := range h {
			return resp.BulkString(f) // map iteration starts at random
		}
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
	h, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	if h == nil || count == 0 {
		return resp.EmptyArr
	}
	var picked []string
	switch {
	case count < 0:
		if -count > maxRandFieldCount {
			return resp.ErrValueOutOfRange.Reply()
		}
		fields := make([]string, 0, len(h))
		for f := range h {
			fields = append(fields, f)
		}
		picked = make([]string, -count)
		for i := range picked {
			picked[i] = fields[rand.IntN(len(fields))]
		}
	case count >= int64(len(h)):
		picked = make([]string, 0, len(h))
		for f := range h {
			picked = append(picked, f)
		}
	default:
		// A partial Fisher-Yates shuffle picks count distinct fields.
		fields := make([]string, 0, len(h))
		for f := range h {
			fields = append(fields, f)
		}
		for i := range int(count) {
			j := i + rand.IntN(len(fields)-i)
			fields[i], fields[j] = fields[j], fields[i]
		}
		picked = fields[:count]
	}
	if !withValues {
		elems := make([]resp.Reply, len(picked))
		for i, f := range picked {
			elems[i] = resp.BulkString(f)
		}
		return resp.Reply{Kind: resp.KindArray, Elems: elems}
	}
	elems := make([]resp.Reply, 0, 2*len(picked))
	for _, f := range picked {
		elems = append(elems, resp.BulkString(f), resp.Reply{Kind: resp.KindBulk, Str: h[f]})
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
