package appliance

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes environment overrides of scalar keys:
// RDPBROKER_LISTEN=127.0.0.1:3390 overrides `listen`,
// RDPBROKER_INSPECT_TIMEOUT=5s overrides `inspect_timeout`,
// RDPBROKER_KEEPALIVE_IDLE=1m overrides `keepalive.idle`.
const EnvPrefix = "RDPBROKER"

// keyDelim separates nested keys inside viper: "::", not ".", because map
// keys such as AD group names ("RDS.Users") and logins may contain dots.
const keyDelim = "::"

// ConfigError is every problem of a configuration file, one per line, each
// starting with its full key path.
type ConfigError struct {
	Path     string
	Problems []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("config: %s:\n%s", e.Path, strings.Join(e.Problems, "\n"))
}

// LoadConfig reads a YAML file, applies environment overrides and defaults,
// and validates everything (including the routing state it describes, so
// logins files are read). It reports every problem at once: unknown keys,
// values of the wrong type and invalid values, as a *ConfigError.
func LoadConfig(path string) (Config, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter(keyDelim))
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(keyDelim, "_"))
	v.AutomaticEnv()
	def := DefaultConfig()
	// Defaults make the scalar keys known to viper, so env overrides apply.
	for key, val := range scalarDefaults(def) {
		v.SetDefault(key, val)
	}
	if err := v.ReadInConfig(); err != nil {
		return Config{}, fmt.Errorf("config: read %s: %w", path, err)
	}
	cfg := def // a key that fails to decode keeps its default: no follow-on errors
	problems := decode(v.AllSettings(), &cfg)
	for _, e := range section("", cfg.Validate()) {
		problems = append(problems, e.Error())
	}
	if len(problems) > 0 {
		return Config{}, &ConfigError{Path: path, Problems: problems}
	}
	return cfg, nil
}

// decode decodes settings into cfg and returns every unknown key and every
// value of the wrong type, one problem each, with its key path.
func decode(settings map[string]any, cfg *Config) []string {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
		ErrorUnused:      true,
		WeaklyTypedInput: true, // as viper's Unmarshal: "5" for an int, env strings
		Result:           cfg,
	})
	if err != nil {
		return []string{err.Error()}
	}
	return decodeProblems(dec.Decode(settings))
}

// decodeProblems flattens mapstructure's joined errors into one line per
// problem: "pools[0].wieght: unknown key", "inspect_timeout: ...".
func decodeProblems(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, decodeProblems(e)...)
		}
		return out
	}
	de, ok := err.(*mapstructure.DecodeError)
	if !ok {
		if inner := errors.Unwrap(err); inner != nil {
			return decodeProblems(inner)
		}
		return []string{err.Error()}
	}
	name := de.Name()
	if strings.HasPrefix(name, "appliance.") { // the root struct's type name
		name = ""
	}
	msg := de.Unwrap().Error()
	if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
		var out []string
		for _, k := range strings.Split(keys, ", ") {
			out = append(out, joinKey(name, k)+": unknown key")
		}
		return out
	}
	return []string{name + ": wrong type: " + msg}
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// scalarDefaults walks a Config and returns every scalar leaf (string,
// number, bool, duration) under its viper key: viper's defaults are derived
// from DefaultConfig, never listed by hand.
func scalarDefaults(c Config) map[string]any {
	out := make(map[string]any)
	walkDefaults(reflect.ValueOf(c), "", out)
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func walkDefaults(v reflect.Value, prefix string, out map[string]any) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		key := prefix + name
		fv := v.Field(i)
		switch {
		case strings.Contains(opts, "squash"):
			walkDefaults(fv, prefix, out)
		case fv.Kind() == reflect.Struct:
			walkDefaults(fv, key+keyDelim, out)
		case fv.Type() == durationType:
			out[key] = fv.Interface()
		case isScalar(fv.Kind()):
			out[key] = fv.Interface()
		}
	}
}

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Int32,
		reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Float64:
		return true
	}
	return false
}
