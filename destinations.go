package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
)

// The platforms, registered in this one file: each is a package implementing the
// destination seam (internal/destination). Adding one is a package, a field in each of
// the two structs below and a line in sections.

// Destination values.
const (
	DestinationOptimizely = optimizely.Name
	DestinationVWO        = vwo.Name
)

// OptimizelyConfig and VWOConfig are the platforms' config sections.
type (
	OptimizelyConfig = optimizely.Config
	VWOConfig        = vwo.Config
)

// Destinations holds each platform's section, squashed into Config.
type Destinations struct {
	Optimizely OptimizelyConfig `mapstructure:"optimizely"`
	VWO        VWOConfig        `mapstructure:"vwo"`
}

// strictDestinationsConfig mirrors Destinations for the strict key check.
type strictDestinationsConfig struct {
	Optimizely optimizely.StrictConfig `mapstructure:"optimizely"`
	VWO        vwo.Config              `mapstructure:"vwo"`
}

func defaultDestinations() Destinations {
	return Destinations{Optimizely: optimizely.DefaultConfig(), VWO: vwo.DefaultConfig()}
}

// sections lists the platforms by destination value, in the order errors name them.
func (d *Destinations) sections() []namedSection {
	return []namedSection{{DestinationOptimizely, &d.Optimizely}, {DestinationVWO, &d.VWO}}
}

type namedSection struct {
	name    string
	section destination.Section
}
