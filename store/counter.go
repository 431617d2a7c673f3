package store

import (
	"math"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("incr", true, func(x exec, a [][]byte) resp.Reply { return x.incrBy(a[1], 1) })
	register("decr", true, func(x exec, a [][]byte) resp.Reply { return x.incrBy(a[1], -1) })
	register("incrby", true, cmdIncrBy)
	register("decrby", true, cmdDecrBy)
	register("incrbyfloat", true, cmdIncrByFloat)
}

func cmdIncrBy(x exec, a [][]byte) resp.Reply {
	n, ok := resp.ParseInt(a[2])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	return x.incrBy(a[1], n)
}

func cmdDecrBy(x exec, a [][]byte) resp.Reply {
	n, ok := resp.ParseInt(a[2])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	if n == math.MinInt64 {
		return resp.ErrDecrementOverflow.Reply()
	}
	return x.incrBy(a[1], -n)
}

// incrBy adds delta to the integer at key, creating it at 0, and keeps its
// TTL as Redis does. The result is int-encoded, as Redis stores it.
func (x *exec) incrBy(key []byte, delta int64) resp.Reply {
	e := x.lookupWrite(key)
	var cur int64
	if e != nil {
		if e.isHash() {
			return resp.ErrWrongType.Reply()
		}
		v, ok := resp.ParseInt(e.str)
		if !ok {
			return resp.ErrNotInteger.Reply()
		}
		cur = v
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return resp.ErrOverflow.Reply()
	}
	cur += delta
	val := strconv.AppendInt(nil, cur, 10)
	if e != nil {
		e.str, e.enc = val, intEncoding(cur)
		x.changed(e)
	} else {
		x.insert(key, &entry{str: val, enc: intEncoding(cur)})
	}
	return resp.Int(cur)
}

// cmdIncrByFloat adds in x87 long double arithmetic, as Redis does (see
// resp.IncrByFloat), stores the formatted sum and keeps the TTL. Redis
// checks the key's type before the increment.
func cmdIncrByFloat(x exec, a [][]byte) resp.Reply {
	e := x.lookupWrite(a[1])
	var cur []byte
	if e != nil {
		if e.isHash() {
			return resp.ErrWrongType.Reply()
		}
		cur = e.str
		if cur == nil {
			cur = []byte{}
		}
	}
	val, err := resp.IncrByFloat(cur, a[2])
	if err != nil {
		return err.Reply()
	}
	if e != nil {
		e.str, e.enc = val, plainEncoding(val)
		x.changed(e)
	} else {
		x.insert(a[1], &entry{str: val, enc: plainEncoding(val)})
	}
	return resp.Reply{Kind: resp.KindBulk, Str: val}
}
