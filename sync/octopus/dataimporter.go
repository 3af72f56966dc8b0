package octopus

import (
	"context"
	"errors"
)

func openDataImporter(ctx context.Context, path string, opts Options) (Store, error) {
	return nil, errors.New("todo")
}
