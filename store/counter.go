package store

import (
	"math"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("incr", func(x exec, a [][]byte) resp.Reply { return x.incrBy(a[1], 1) })
	register("decr", func(x exec, a [][]byte) resp.Reply { return x.incrBy(a[1], -1) })
	register("incrby", cmdIncrBy)
	register("decrby", cmdDecrBy)
	register("incrbyfloat", cmdIncrByFloat)
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
	o, found := x.lookupWrite(key)
	var cur int64
	var expireAt int64
	if found {
		if o.isHash() {
			return resp.ErrWrongType.Reply()
		}
		v, ok := resp.ParseInt(o.val())
		if !ok {
			return resp.ErrNotInteger.Reply()
		}
		cur, expireAt = v, o.expireAt
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return resp.ErrOverflow.Reply()
	}
	cur += delta
	var buf [20]byte
	x.put(&o, key, intEncoding(cur), expireAt, strconv.AppendInt(buf[:0], cur, 10))
	return resp.Int(cur)
}

// cmdIncrByFloat adds in x87 long double arithmetic, as Redis does (see
// resp.IncrByFloat), stores the formatted sum and keeps the TTL. Redis
// checks the key's type before the increment.
func cmdIncrByFloat(x exec, a [][]byte) resp.Reply {
	o, found := x.lookupWrite(a[1])
	var cur []byte
	var expireAt int64
	if found {
		if o.isHash() {
			return resp.ErrWrongType.Reply()
		}
		cur, expireAt = o.val(), o.expireAt
	}
	val, err := resp.IncrByFloat(cur, a[2])
	if err != nil {
		return err.Reply()
	}
	x.put(&o, a[1], plainEncoding(val), expireAt, val)
	return resp.Reply{Kind: resp.KindBulk, Str: val}
}
