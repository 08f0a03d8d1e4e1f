package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// runWorkers runs n load workers until each returns, each with a Result
// of its own, and merges them. worker(i, res) returns worker i's body,
// which must return by the deadline it was built with or when ctx ends.
// name prefixes the error when ctx ended first (the partial total is
// returned with it).
func runWorkers(ctx context.Context, name string, n int, start time.Time, worker func(i int, res *Result) func(context.Context)) (*Result, error) {
	var wg sync.WaitGroup
	results := make([]*Result, n)
	for i := range results {
		results[i] = newResult()
		run := worker(i, results[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	wg.Wait()
	total := newResult()
	for _, r := range results {
		total.merge(r)
	}
	total.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return total, fmt.Errorf("%s: %w", name, err)
	}
	return total, nil
}
