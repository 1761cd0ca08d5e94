package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
)

func newDatafilePoller(*Config, *http.Client, *zap.Logger, func(*optimizely.Datafile)) (datafilePoller, error) {
	return nil, errors.New("optimizely::sdk_key is not supported yet; use optimizely::datafile_path")
}
