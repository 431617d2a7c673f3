package cluster

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.uber.org/zap/zaptest"
)

// TestVerifyLogGaps stores logs with and without gaps and checks which
// verifyLog accepts, and what it leaves behind: a gap the latest snapshot
// covers is repaired by deleting the covered entries; any other gap is
// damage.
func TestVerifyLogGaps(t *testing.T) {
	span := func(from, to uint64) []uint64 {
		var s []uint64
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	for _, c := range []struct {
		name      string
		indexes   []uint64
		snapIndex uint64
		wantErr   bool
		wantFirst uint64
	}{
		{"contiguous", span(1, 10), 0, false, 1},
		{"contiguous with snapshot", span(5, 10), 8, false, 5},
		{"gap covered by snapshot", append(span(1, 5), span(10, 12)...), 9, false, 10},
		{"gap and tail covered by snapshot", append(span(1, 5), span(10, 12)...), 11, false, 12},
		{"everything covered", append(span(1, 5), span(10, 12)...), 20, false, 0},
		{"gap above snapshot", append(span(1, 5), span(10, 12)...), 3, true, 0},
		{"gap without snapshot", append(span(1, 5), span(10, 12)...), 0, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := raftboltdb.NewBoltStore(filepath.Join(t.TempDir(), "raft.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var logs []*raft.Log
			for _, i := range c.indexes {
				logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogNoop})
			}
			if err := st.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			err = verifyLog(0, st, c.snapIndex, zaptest.NewLogger(t))
			if c.wantErr {
				if !errors.Is(err, ErrCorruptLog) {
					t.Fatalf("verifyLog = %v, want ErrCorruptLog", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("verifyLog: %v", err)
			}
			first, _ := st.FirstIndex()
			if first != c.wantFirst {
				t.Fatalf("first index after verifyLog = %d, want %d", first, c.wantFirst)
			}
		})
	}
}
