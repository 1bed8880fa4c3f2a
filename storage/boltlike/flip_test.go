package boltlike

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
)

// storeDigest reads the whole store and returns a hash of its bounds, hard
// state and entries.
func storeDigest(s *Store) (string, error) {
	first, err := s.FirstIndex()
	if err != nil {
		return "", err
	}
	last, err := s.LastIndex()
	if err != nil {
		return "", err
	}
	hs, err := s.HardState()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d %d %d %q\n", first, last, hs.Term, hs.Vote)
	for lo := first; lo != 0 && lo <= last; {
		entries, err := s.Entries(lo, last+1, 256<<10)
		if err != nil {
			return "", err
		}
		for i := range entries {
			h.Write(entries[i].Marshal())
		}
		lo += uint64(len(entries))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// runFlipCheck is the child of TestRandomFileDamage. It opens the store at
// path and prints "result ok DIGEST" or "result error MESSAGE". A crash
// prints neither.
func runFlipCheck(path string) int {
	s, err := Open(path, Options{Cluster: "c1", Node: "n1", Logger: quietLogger, LockTimeout: -1})
	if err != nil {
		fmt.Printf("result error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 0
	}
	defer s.Close()
	digest, err := storeDigest(s)
	if err != nil {
		fmt.Printf("result error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 0
	}
	fmt.Printf("result ok %s\n", digest)
	return 0
}

// writeFlipTestStore writes a store with several thousand entries of mixed
// sizes in batches, a compacted prefix and a hard state, and returns its
// path and digest.
func writeFlipTestStore(t *testing.T) (path, digest string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "pristine.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for next := uint64(1); next <= 3000; {
		batch := make([]wire.Entry, 0, 97)
		for range cap(batch) {
			batch = append(batch, crashEntry(next))
			next++
		}
		if err := s.Append(batch); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := s.TruncatePrefix(500); err != nil {
		t.Fatalf("TruncatePrefix: %v", err)
	}
	if err := s.SetHardState(wire.HardState{Term: 4, Vote: "n2"}); err != nil {
		t.Fatalf("SetHardState: %v", err)
	}
	if digest, err = storeDigest(s); err != nil {
		t.Fatalf("digest of the pristine store: %v", err)
	}
	return path, digest
}

// TestRandomFileDamage flips one random bit of a store file per trial and
// checks, in a child process, that opening and reading the store either
// returns exactly the original data or fails. A child that crashes also
// returned no wrong data, so the test only counts and logs such cases.
func TestRandomFileDamage(t *testing.T) {
	trials := 120
	if testing.Short() {
		trials = 20
	}
	pristinePath, want := writeFlipTestStore(t)
	pristine, err := os.ReadFile(pristinePath)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	counts := map[string]int{}
	dir := t.TempDir()
	for trial := range trials {
		damaged := append([]byte(nil), pristine...)
		offset := rng.IntN(len(damaged))
		damaged[offset] ^= byte(1 << rng.IntN(8))
		path := filepath.Join(dir, fmt.Sprintf("trial-%d.db", trial))
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}

		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = childEnv("flipcheck", path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, runErr := cmd.Output()
		result, found := strings.CutPrefix(strings.TrimSpace(string(out)), "result ")
		switch {
		case !found:
			counts["crashed"]++
			t.Logf("trial %d, byte %d of %d: the reader crashed (%v): %s", trial, offset, len(damaged), runErr, firstLine(stderr.String()))
		case strings.HasPrefix(result, "error "):
			counts["error"]++
		case result == "ok "+want:
			counts["unchanged"]++
		default:
			counts["wrong data"]++
			t.Errorf("trial %d, byte %d of %d: the store returned data that differs from what was written", trial, offset, len(damaged))
		}
	}
	t.Logf("%d trials on a %d-byte file: %v", trials, len(pristine), counts)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
