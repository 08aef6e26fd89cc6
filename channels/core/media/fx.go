package media

import "go.uber.org/fx"

// Module provides the *Fetcher from Config.
var Module = fx.Module("media", fx.Provide(NewFetcher))
