#include "forked_jobs.h"

#include "../layers/errors.h"

#include <Halide.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace cnngen {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// How a child reports its exception: the kind on the first line, the message after it.
enum class ErrorKind { config, halide, other };

[[noreturn]] void run_child(const ForkedJob &job, const fs::path &error_file) {
    ErrorKind kind = ErrorKind::other;
    std::string message;
    try {
        job.run();
        _exit(0);  // no atexit handlers, no flushing of the parent's buffers: they belong to it
    } catch (const ConfigError &e) {
        kind = ErrorKind::config, message = e.what();
    } catch (const Halide::CompileError &e) {
        kind = ErrorKind::halide, message = e.what();
    } catch (const std::exception &e) {
        message = e.what();
    } catch (...) {
        message = "an exception that is not a std::exception";
    }
    std::ofstream(error_file) << int(kind) << "\n" << message;
    _exit(1);
}

[[noreturn]] void rethrow_child_error(const ForkedJob &job, int status, const fs::path &error_file) {
    if (WIFSIGNALED(status))
        fail("cnngen build: generating {} ended on signal {} ({})", job.name, WTERMSIG(status),
             strsignal(WTERMSIG(status)));
    std::ifstream in(error_file);
    int kind = -1;
    in >> kind;
    in.ignore(1);
    std::stringstream message;
    message << in.rdbuf();
    if (!in && kind < 0) fail("cnngen build: generating {} exited with status {}", job.name, WEXITSTATUS(status));
    switch (ErrorKind(kind)) {
    case ErrorKind::config: throw ConfigError(message.str());
    case ErrorKind::halide: throw Halide::CompileError(message.str());
    default: throw std::runtime_error(message.str());
    }
}

struct Running {
    pid_t pid;
    size_t index;
    Clock::time_point started;
};

}  // namespace

void run_forked(const std::vector<ForkedJob> &jobs, int parallel, const fs::path &scratch,
                const std::function<void(size_t, double)> &finished) {
    if (parallel <= 0) parallel = int(std::max(1u, std::thread::hardware_concurrency()));
    const auto error_file = [&](size_t index) { return scratch / (jobs[index].name + ".error"); };
    // Whatever is buffered would otherwise be written again by a child that flushes.
    std::fflush(stdout);
    std::fflush(stderr);
    std::vector<Running> running;
    size_t next = 0;
    int failed_status = 0;
    size_t failed_index = jobs.size();
    while (!running.empty() || (next < jobs.size() && failed_index == jobs.size())) {
        while (failed_index == jobs.size() && next < jobs.size() && int(running.size()) < parallel) {
            const pid_t pid = fork();
            if (pid < 0) {
                const int error = errno;
                for (const Running &r : running) kill(r.pid, SIGTERM);
                for (const Running &r : running) waitpid(r.pid, nullptr, 0);
                fail("cnngen build: no process for generating {}: {}", jobs[next].name, std::strerror(error));
            }
            if (pid == 0) run_child(jobs[next], error_file(next));
            running.push_back({pid, next, Clock::now()});
            ++next;
        }
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            fail("cnngen build: waiting for the generating processes: {}", std::strerror(errno));
        }
        const auto it = std::find_if(running.begin(), running.end(), [&](const Running &r) { return r.pid == pid; });
        if (it == running.end()) continue;  // not one of ours
        const Running done = *it;
        running.erase(it);
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
            finished(done.index, std::chrono::duration<double>(Clock::now() - done.started).count());
        } else if (failed_index == jobs.size()) {
            // The first failure is the one reported; the others are stopped, not waited out.
            failed_index = done.index, failed_status = status;
            for (const Running &r : running) kill(r.pid, SIGTERM);
        }
    }
    if (failed_index < jobs.size()) rethrow_child_error(jobs[failed_index], failed_status, error_file(failed_index));
}

}  // namespace cnngen
