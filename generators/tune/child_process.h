#pragma once
// The commands `cnngen tune` runs: builds in parallel, measurements one at a time, each with
// its output in a log file and a time limit. Each runs in its own process group, so a limit
// or an interrupted tune (SIGINT, SIGTERM) stops everything it started, emulators included.
#include <chrono>
#include <string>
#include <sys/types.h>

namespace cnngen {

struct ChildProcess {
    pid_t pid = -1;
    std::chrono::steady_clock::time_point started;
    double limit_seconds = 0;
};

// Runs `command` with /bin/sh, stdout and stderr to `log`.
ChildProcess start_command(const std::string &command, const std::string &log, double limit_seconds);

// The exit status once it has ended; -1 while it runs; kTimedOut when it ran past its
// limit (then it has been killed).
constexpr int kTimedOut = -2;
int poll_command(ChildProcess &child);
int wait_command(ChildProcess &child);

// The last `count` non-empty lines of a log, joined with " | ".
std::string log_tail(const std::string &log, int count);

// `text` quoted for /bin/sh.
std::string shell_quoted(const std::string &text);

}  // namespace cnngen
