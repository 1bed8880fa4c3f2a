package wal

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/natsraft/natsraft/storage/storagetest"
)

// Constants of the FIEMAP ioctl, from linux/fiemap.h and linux/fs.h.
const (
	fsIOCFiemap           = 0xC020660B
	fiemapFlagSync        = 0x1
	fiemapExtentLast      = 0x1
	fiemapExtentUnwritten = 0x800
	fiemapHeaderSize      = 32
	fiemapExtentSize      = 56
)

// unwrittenBytes returns how many bytes of path lie in extents that the file
// system marks unwritten (reserved by fallocate and never written). It skips
// the test on file systems without FIEMAP.
func unwrittenBytes(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const maxExtents = 512
	var total int64
	start := uint64(0)
	for {
		buf := make([]byte, fiemapHeaderSize+maxExtents*fiemapExtentSize)
		le := binary.LittleEndian
		le.PutUint64(buf[0:], start)
		le.PutUint64(buf[8:], ^uint64(0)-start)
		le.PutUint32(buf[16:], fiemapFlagSync)
		le.PutUint32(buf[24:], maxExtents)
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIOCFiemap, uintptr(unsafe.Pointer(&buf[0])))
		if errno != 0 {
			if errors.Is(errno, syscall.EOPNOTSUPP) || errors.Is(errno, syscall.ENOTTY) {
				t.Skipf("the file system of %s does not report extents: %v", path, errno)
			}
			t.Fatalf("FIEMAP on %s: %v", path, errno)
		}
		mapped := le.Uint32(buf[20:])
		if mapped == 0 {
			return total
		}
		for i := uint32(0); i < mapped; i++ {
			e := buf[fiemapHeaderSize+int(i)*fiemapExtentSize:]
			logical, length, flags := le.Uint64(e[0:]), le.Uint64(e[16:]), le.Uint32(e[40:])
			if flags&fiemapExtentUnwritten != 0 {
				total += int64(length)
			}
			start = logical + length
			if flags&fiemapExtentLast != 0 {
				return total
			}
		}
	}
}

// TestSegmentsHaveNoUnwrittenExtents checks that the first segment and a
// segment made from a spare are written through, so that an append to them
// changes no block map and its fdatasync need not commit the journal.
func TestSegmentsHaveNoUnwrittenExtents(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.SegmentSize = 1 << 20
	s := openTestStore(t, dir, opts)
	first := segmentFiles(t, dir)[0]
	if n := unwrittenBytes(t, first); n != 0 {
		t.Errorf("the first segment %s has %d unwritten bytes, want 0", first, n)
	}

	s.writeMu.Lock()
	s.spare = prepareSpare(dir, opts.SegmentSize)
	s.writeMu.Unlock()
	waitSpareReady(t, s)
	s.writeMu.Lock()
	_, err := s.rotate()
	s.writeMu.Unlock()
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	files := segmentFiles(t, dir)
	second := files[len(files)-1]
	if n := unwrittenBytes(t, second); n != 0 {
		t.Errorf("the segment %s made from the spare has %d unwritten bytes, want 0", filepath.Base(second), n)
	}
	mustAppend(t, s, storagetest.MakeEntries(1, 10, 1))
}
