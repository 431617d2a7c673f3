package store

import (
	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("hset", true, cmdHSet)
	register("hmset", true, cmdHSet)
	register("hget", false, cmdHGet)
	register("hdel", true, cmdHDel)
	register("hgetall", false, cmdHGetAll)
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
// one when create is set and the key is missing.
func (x *exec) hashWrite(key []byte, create bool) (*entry, *resp.Error) {
	e := x.lookupWrite(key)
	if e == nil {
		if !create {
			return nil, nil
		}
		e = &entry{hash: make(map[string][]byte)}
		x.s.insert(key, e)
		return e, nil
	}
	if !e.isHash() {
		return nil, resp.ErrWrongType
	}
	return e, nil
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
		if _, ok := e.hash[string(a[i])]; !ok {
			added++
		}
		e.hash[string(a[i])] = clone(a[i+1])
	}
	if resp.EqualFold(a[0], "hmset") {
		return resp.OK
	}
	return resp.Int(added)
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
	}
	return resp.Int(n)
}

func cmdHGetAll(x exec, a [][]byte) resp.Reply {
	h, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	elems := make([]resp.Reply, 0, 2*len(h))
	for k, v := range h {
		elems = append(elems, resp.BulkString(k), resp.Reply{Kind: resp.KindBulk, Str: v})
	}
	return resp.Reply{Kind: resp.KindMap, Elems: elems}
}
