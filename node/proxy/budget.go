package proxy

import (
	"sync"
	"time"
)

const (
	// budgetWindow is how far back "recent requests" reach, in seconds.
	budgetWindow = 10
	// budgetFloorPerSecond lets a quiet upstream retry at all: retries are
	// allowed at this rate (averaged over the window) on top of the ratio.
	budgetFloorPerSecond = 3
)

// retryBudget caps retries to a fraction of recent traffic, so a failing
// upstream sees at most (1+ratio) times its normal load rather than
// (1+attempts) times. Over the last budgetWindow seconds, a retry is
// allowed while
//
//	retries < ratio*requests + budgetFloorPerSecond*budgetWindow
//
// where requests counts first tries only. It is shared by every route of
// an upstream.
type retryBudget struct {
	ratio float64

	mu      sync.Mutex
	buckets [budgetWindow]budgetBucket
}

type budgetBucket struct {
	sec               int64
	requests, retries int64
}

func newRetryBudget(ratio float64) *retryBudget {
	return &retryBudget{ratio: ratio}
}

// bucket returns the bucket of second sec, emptied if it held an older
// second. b.mu is held.
func (b *retryBudget) bucket(sec int64) *budgetBucket {
	bk := &b.buckets[uint64(sec)%budgetWindow]
	if bk.sec != sec {
		*bk = budgetBucket{sec: sec}
	}
	return bk
}

// request counts a request's first try.
func (b *retryBudget) request(now time.Time) {
	b.mu.Lock()
	b.bucket(now.Unix()).requests++
	b.mu.Unlock()
}

// withdraw reports whether one more retry fits in the budget, and if so
// counts it.
func (b *retryBudget) withdraw(now time.Time) bool {
	sec := now.Unix()
	b.mu.Lock()
	defer b.mu.Unlock()
	var requests, retries int64
	for _, bk := range b.buckets {
		if sec-bk.sec < budgetWindow {
			requests += bk.requests
			retries += bk.retries
		}
	}
	if float64(retries) >= b.ratio*float64(requests)+budgetFloorPerSecond*budgetWindow {
		return false
	}
	b.bucket(sec).retries++
	return true
}
