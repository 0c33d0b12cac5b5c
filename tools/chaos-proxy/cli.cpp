#include "tools/chaos-proxy/cli.hpp"

#include <algorithm>
#include <charconv>
#include <functional>

#include "config/checks.hpp"
#include "config/units.hpp"

namespace wsvisor::chaos {

namespace {

constexpr std::array<direction, 2> both{direction::client_to_server, direction::server_to_client};

// Built by appending: GCC 12 at -O3 warns (-Wrestrict, a known false
// positive) on `"`" + std::string{s} + "`"`, which -Werror makes fatal.
std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '`';
  out += s;
  out += '`';
  return out;
}

std::size_t at(direction d) { return d == direction::client_to_server ? 0 : 1; }

// Plain decimal digits, all of them.
std::optional<std::uint64_t> parse_number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// c2s, s2c or both.
std::optional<std::vector<direction>> parse_directions(std::string_view s) {
  if (s == "c2s") return std::vector{direction::client_to_server};
  if (s == "s2c") return std::vector{direction::server_to_client};
  if (s == "both") return std::vector<direction>{both.begin(), both.end()};
  return std::nullopt;
}

// MIN..MAX, two durations with MIN <= MAX.
std::optional<std::pair<duration, duration>> parse_range(std::string_view s) {
  auto dots = s.find("..");
  if (dots == std::string_view::npos) return std::nullopt;
  auto lo = parse_duration(s.substr(0, dots));
  auto hi = parse_duration(s.substr(dots + 2));
  if (!lo || !hi || *hi < *lo) return std::nullopt;
  return std::pair{*lo, *hi};
}

// T,T,... durations.
std::optional<std::vector<duration>> parse_moments(std::string_view s) {
  std::vector<duration> out;
  for (;;) {
    auto comma = s.find(',');
    auto d = parse_duration(s.substr(0, comma));
    if (!d) return std::nullopt;
    out.push_back(*d);
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

// DIR:VALUE, split at the first ':'.
std::optional<std::pair<std::vector<direction>, std::string_view>> split_direction(
    std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto dirs = parse_directions(s.substr(0, colon));
  if (!dirs) return std::nullopt;
  return std::pair{*dirs, s.substr(colon + 1)};
}

const std::string dir_help = " (DIR: c2s, s2c or both)";

// Each setter returns an error naming the bad input, or "".
using setter = std::function<std::string(cli_plan&, std::string_view)>;

struct option {
  std::string_view name;
  setter set;
};

std::string set_address(std::string_view v, std::string& host, std::uint16_t& port) {
  auto hp = parse_host_port(v);
  if (!hp) return quoted(v) + " is not HOST:PORT";
  host = hp->host;
  port = hp->port;
  return "";
}

const std::vector<option>& options() {
  static const std::vector<option> table{
      {"listen",
       [](cli_plan& p, std::string_view v) {
         return set_address(v, p.proxy.listen_host, p.proxy.listen_port);
       }},
      {"target",
       [](cli_plan& p, std::string_view v) {
         return set_address(v, p.proxy.target_host, p.proxy.target_port);
       }},
      {"seed",
       [](cli_plan& p, std::string_view v) -> std::string {
         auto n = parse_number(v);
         if (!n) return quoted(v) + " is not a whole number";
         p.seed = *n;
         return "";
       }},
      {"chunk",
       [](cli_plan& p, std::string_view v) -> std::string {
         auto n = parse_size(v);
         if (!n || *n == 0 || *n > (64u << 20))
           return quoted(v) + " is not a size from 1B to 64MiB";
         p.proxy.chunk_bytes = static_cast<std::size_t>(*n);
         return "";
       }},
      {"cut-every",
       [](cli_plan& p, std::string_view v) -> std::string {
         p.cut_every = parse_range(v);
         if (!p.cut_every) return quoted(v) + " is not MIN..MAX (durations, MIN <= MAX)";
         return "";
       }},
      {"cut-at",
       [](cli_plan& p, std::string_view v) -> std::string {
         auto m = parse_moments(v);
         if (!m) return quoted(v) + " is not a list of durations (T,T,...)";
         p.cut_at.insert(p.cut_at.end(), m->begin(), m->end());
         return "";
       }},
      {"cut-after-bytes",
       [](cli_plan& p, std::string_view v) -> std::string {
         p.cut_after_bytes = parse_size(v);
         if (!p.cut_after_bytes) return quoted(v) + " is not a size";
         return "";
       }},
      {"delay",
       [](cli_plan& p, std::string_view v) -> std::string {
         auto dv = split_direction(v);
         auto d = dv ? parse_duration(dv->second) : std::nullopt;
         if (!d) return quoted(v) + " is not DIR:DURATION" + dir_help;
         for (auto dir : dv->first) p.delay[at(dir)] = *d;
         return "";
       }},
      {"throttle",
       [](cli_plan& p, std::string_view v) -> std::string {
         auto dv = split_direction(v);
         auto rate = dv ? parse_size(dv->second) : std::nullopt;
         if (!rate) return quoted(v) + " is not DIR:BYTES_PER_SECOND" + dir_help;
         for (auto dir : dv->first) p.throttle[at(dir)] = *rate;
         return "";
       }},
      {"stall",
       [](cli_plan& p, std::string_view v) -> std::string {
         auto dirs = parse_directions(v);
         if (!dirs) return quoted(v) + " is not c2s, s2c or both";
         for (auto dir : *dirs) p.stall[at(dir)] = true;
         return "";
       }},
      {"truncate",
       [](cli_plan& p, std::string_view v) -> std::string {
         auto dv = split_direction(v);
         auto keep = dv && dv->first.size() == 1 ? parse_size(dv->second) : std::nullopt;
         if (!keep) return quoted(v) + " is not DIR:KEEP (DIR: c2s or s2c)";
         p.truncate = truncation{dv->first[0], static_cast<std::size_t>(*keep)};
         return "";
       }},
  };
  return table;
}

}  // namespace

cli_result parse_cli(int argc, const char* const* argv) {
  cli_result r;
  bool listen = false, target = false;
  for (int i = 1; i < argc && argv[i] && r.ok(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      r.plan.help = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      r.error = "unexpected argument " + quoted(arg);
      break;
    }
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string_view::npos ? eq : eq - 2);
    auto opt = std::find_if(options().begin(), options().end(),
                            [name](const option& o) { return o.name == name; });
    if (opt == options().end()) {
      r.error = "unknown option " + quoted(arg.substr(0, eq));
      break;
    }
    std::string_view value;
    if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc && argv[i + 1]) {
      value = argv[++i];
    } else {
      r.error = "--" + std::string{name} + " needs a value";
      break;
    }
    if (auto e = opt->set(r.plan, value); !e.empty()) r.error = "--" + std::string{name} + ": " + e;
    listen = listen || name == "listen";
    target = target || name == "target";
  }
  if (!r.ok() || r.plan.help) return r;
  if (!listen)
    r.error = "--listen HOST:PORT is required";
  else if (!target)
    r.error = "--target HOST:PORT is required";
  else if (r.plan.truncate && !r.plan.cut_every)
    r.error = "--truncate needs --cut-every (it says what those cuts do)";
  return r;
}

std::string usage_text() {
  return R"(usage: chaos-proxy --listen HOST:PORT --target HOST:PORT [faults]

Forwards every TCP connection accepted on --listen to --target, bytes
unchanged, except for the faults asked for. DIR is c2s (client to server),
s2c (server to client) or both; durations are 250ms, 2s, 1m; sizes and rates
are bytes (1500, 64KiB, 1MiB).

  --listen HOST:PORT       where to accept clients (port 0: any; the port is printed)
  --target HOST:PORT       where to forward each connection
  --seed N                 seed of --cut-every's intervals and choices (default 1)
  --cut-every MIN..MAX     reset one random connection every uniform[MIN,MAX]
  --truncate DIR:KEEP      with --cut-every: instead of resetting the picked connection,
                           forward only the first KEEP bytes of its next chunk in DIR
                           (never the whole chunk), then reset it
  --cut-at T,T,...         reset every connection at these times after the start
  --cut-after-bytes N      reset each connection once it has forwarded N bytes (both
                           directions together), splitting the chunk that crosses N
  --delay DIR:D            forward each chunk in DIR D after it arrived (latency)
  --throttle DIR:RATE      forward at most RATE bytes per second in DIR
  --stall DIR              forward nothing in DIR (connections stay open) until unstalled
  --chunk SIZE             largest read, the unit of delay and truncation (default 16KiB)
  -h, --help               this text

A cut resets both sides (SO_LINGER 0): each peer sees a connection reset.
While it runs, chaos-proxy reads commands on stdin, one a line, and answers each
on stdout:
  cut                      reset every connection now
  stall DIR | unstall DIR
  delay DIR D              (0ms: none)
  throttle DIR RATE        (0: unlimited)
  truncate DIR KEEP        the next chunk in DIR, on any connection
  cut-after-bytes N|off
  refuse on|off            reset connections as soon as they are accepted
  stats                    accepted=.. active=.. cuts=.. truncations=.. c2s=IN/OUT s2c=IN/OUT
SIGINT or SIGTERM stops it after printing the stats on stderr.
)";
}

void apply(const cli_plan& plan, chaos_proxy& proxy) {
  for (auto d : both) {
    if (plan.delay[at(d)] > duration::zero()) proxy.set_delay(d, plan.delay[at(d)]);
    if (plan.throttle[at(d)] > 0) proxy.set_throttle(d, plan.throttle[at(d)]);
    if (plan.stall[at(d)]) proxy.set_stalled(d, true);
  }
  if (plan.cut_after_bytes) proxy.cut_after_bytes(plan.cut_after_bytes);
  if (!plan.cut_at.empty()) proxy.cut_at(plan.cut_at);
  if (plan.cut_every)
    proxy.cut_randomly(plan.cut_every->first, plan.cut_every->second, plan.seed, plan.truncate);
}

std::string run_command(chaos_proxy& proxy, std::string_view line) {
  std::vector<std::string_view> words;
  for (std::size_t pos = 0; pos < line.size();) {
    auto start = line.find_first_not_of(" \t\r", pos);
    if (start == std::string_view::npos) break;
    auto end = std::min(line.find_first_of(" \t\r", start), line.size());
    words.push_back(line.substr(start, end - start));
    pos = end;
  }
  if (words.empty()) return "";
  auto cmd = words[0];
  auto arity = [&](std::size_t n) { return words.size() == n + 1; };
  auto dirs = words.size() > 1 ? parse_directions(words[1]) : std::nullopt;
  if (cmd == "stats" && arity(0)) return format_stats(proxy.stats());
  if (cmd == "cut" && arity(0)) return "ok: cut " + std::to_string(proxy.cut_all());
  if ((cmd == "stall" || cmd == "unstall") && arity(1) && dirs) {
    for (auto d : *dirs) proxy.set_stalled(d, cmd == "stall");
    return "ok";
  }
  if (cmd == "delay" && arity(2) && dirs) {
    auto d = parse_duration(words[2]);
    if (!d) return "error: delay: " + quoted(words[2]) + " is not a duration";
    for (auto dir : *dirs) proxy.set_delay(dir, *d);
    return "ok";
  }
  if (cmd == "throttle" && arity(2) && dirs) {
    auto rate = parse_size(words[2]);
    if (!rate) return "error: throttle: " + quoted(words[2]) + " is not a rate";
    for (auto dir : *dirs) proxy.set_throttle(dir, *rate);
    return "ok";
  }
  if (cmd == "truncate" && arity(2) && dirs && dirs->size() == 1) {
    auto keep = parse_size(words[2]);
    if (!keep) return "error: truncate: " + quoted(words[2]) + " is not a size";
    proxy.truncate_next(truncation{dirs->front(), static_cast<std::size_t>(*keep)});
    return "ok";
  }
  if (cmd == "cut-after-bytes" && arity(1)) {
    auto n = parse_size(words[1]);
    if (!n && words[1] != "off")
      return "error: cut-after-bytes: " + quoted(words[1]) + " is not a size or off";
    proxy.cut_after_bytes(n);
    return "ok";
  }
  if (cmd == "refuse" && arity(1) && (words[1] == "on" || words[1] == "off")) {
    proxy.set_refusing(words[1] == "on");
    return "ok";
  }
  return "error: cannot run " + quoted(line) + " (see --help for the commands)";
}

std::string format_stats(const proxy_stats& s) {
  return "accepted=" + std::to_string(s.accepted) + " active=" + std::to_string(s.active) +
         " cuts=" + std::to_string(s.cuts) + " truncations=" + std::to_string(s.truncations) +
         " c2s=" + std::to_string(s.c2s.received) + "/" + std::to_string(s.c2s.forwarded) +
         " s2c=" + std::to_string(s.s2c.received) + "/" + std::to_string(s.s2c.forwarded);
}

}  // namespace wsvisor::chaos
