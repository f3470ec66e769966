package affinity

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketName is the bbolt bucket holding key -> encoded record.
var bucketName = []byte("affinity.v1")

// boltStore is the on-disk copy of the table: one bbolt file, one bucket.
type boltStore struct {
	path string
	db   *bolt.DB
}

// openBolt opens (creating) the store file. A lock held by another
// process fails after timeout with bolt.ErrTimeout.
func openBolt(path string, timeout time.Duration) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &boltStore{path: path, db: db}, nil
}

// load calls fn for every stored key and value, after hint with the
// number of keys. A panic inside bbolt (a damaged page) is returned as an
// error.
func (s *boltStore) load(hint func(n int), fn func(k, v []byte)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged store: %v", p)
		}
	}()
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		if b == nil {
			return errors.New("bucket missing")
		}
		hint(b.Stats().KeyN)
		return b.ForEach(func(k, v []byte) error {
			fn(k, v)
			return nil
		})
	})
}

// write applies one batch in one transaction, fsynced on commit.
func (s *boltStore) write(batch map[string]pendingOp) error {
	keys := make([]string, 0, len(batch))
	size := 0
	for k, op := range batch {
		keys = append(keys, k)
		if !op.purge {
			size += 24 + len(op.rec.server) + len(op.rec.ver.Node)
		}
	}
	sort.Strings(keys) // sequential inserts split fewer pages
	buf := make([]byte, 0, size)
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		for _, k := range keys {
			op := batch[k]
			if op.purge {
				if err := b.Delete([]byte(k)); err != nil {
					return err
				}
				continue
			}
			start := len(buf)
			buf = appendRecord(buf, op.rec)
			// a reallocation leaves earlier values in the old array, still
			// valid until the commit
			if err := b.Put([]byte(k), buf[start:len(buf):len(buf)]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) size() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (s *boltStore) close() error { return s.db.Close() }
