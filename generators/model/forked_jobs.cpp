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
#include <optional>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace cnngen {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// How a child reports its exception: the kind on the first line, the message after it.
enum class ErrorKind { config = 1, halide = 2, other = 3 };

[[noreturn]] void run_child(const ForkedJob &job, const fs::path &error_file) noexcept {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphan goes on compiling if the parent is killed
    ErrorKind kind = ErrorKind::other;
    std::string message;
    try {
        job.run();
        std::fflush(stdout);
        _exit(0);  // no exit handlers: they, and the objects they would destroy, are the parent's
    } catch (const ConfigError &e) {
        kind = ErrorKind::config;
        message = e.what();
    } catch (const Halide::CompileError &e) {
        kind = ErrorKind::halide;
        message = e.what();
    } catch (const std::exception &e) {
        message = e.what();
    } catch (...) {
        message = "an exception that is not a std::exception";
    }
    try {
        std::ofstream(error_file) << int(kind) << "\n" << message;
    } catch (...) {
    }
    _exit(1);
}

// The child's exception, thrown again here; a child that crashed or left no report is not bad
// input, so it is no ConfigError (which exits 1).
[[noreturn]] void rethrow_child_error(const ForkedJob &job, int status, const fs::path &error_file) {
    if (WIFSIGNALED(status))
        throw std::runtime_error(fmt::format("cnngen build: generating {} ended on signal {} ({})", job.name,
                                             WTERMSIG(status), strsignal(WTERMSIG(status))));
    std::ifstream in(error_file);
    int kind = 0;
    in >> kind;
    in.ignore(1);
    std::stringstream message;
    message << in.rdbuf();
    std::error_code ignored;
    fs::remove(error_file, ignored);
    switch (ErrorKind(kind)) {
    case ErrorKind::config: throw ConfigError(message.str());
    case ErrorKind::halide: throw Halide::CompileError(message.str());
    case ErrorKind::other: throw std::runtime_error(message.str());
    }
    throw std::runtime_error(
        fmt::format("cnngen build: generating {} exited with status {}", job.name, WEXITSTATUS(status)));
}

struct Running {
    pid_t pid;
    size_t index;
    Clock::time_point started;
};

// The children still running when the parent leaves, however it leaves: killed and reaped.
struct ChildrenGuard {
    std::vector<Running> &running;
    ~ChildrenGuard() {
        for (const Running &r : running) kill(r.pid, SIGKILL);
        for (const Running &r : running) waitpid(r.pid, nullptr, 0);
    }
};

}  // namespace

void run_forked(const std::vector<ForkedJob> &jobs, int parallel, const fs::path &scratch,
                const std::function<void(size_t, double)> &finished) {
    if (parallel <= 0) parallel = int(std::max(1u, std::thread::hardware_concurrency()));
    const auto error_file = [&](size_t index) { return scratch / (jobs[index].name + ".error"); };
    std::vector<Running> running;
    const ChildrenGuard guard{running};
    size_t next = 0;
    std::optional<size_t> failed;
    int failed_status = 0;
    while (!running.empty() || (next < jobs.size() && !failed)) {
        while (!failed && next < jobs.size() && int(running.size()) < parallel) {
            std::error_code ignored;
            fs::remove(error_file(next), ignored);
            // Whatever is buffered would otherwise be written again by a child that flushes.
            std::fflush(stdout);
            std::fflush(stderr);
            const pid_t pid = fork();
            if (pid < 0)
                throw std::runtime_error(fmt::format("cnngen build: no process for generating {}: {}",
                                                     jobs[next].name, std::strerror(errno)));
            if (pid == 0) run_child(jobs[next], error_file(next));
            running.push_back({pid, next, Clock::now()});
            ++next;
        }
        // Only our own children: a caller may have others.
        bool reaped = false;
        for (size_t k = 0; k < running.size();) {
            int status = 0;
            const pid_t pid = waitpid(running[k].pid, &status, WNOHANG);
            if (pid == 0 || (pid < 0 && errno == EINTR)) {
                ++k;
                continue;
            }
            if (pid < 0)
                throw std::runtime_error(fmt::format("cnngen build: waiting for generating {}: {}",
                                                     jobs[running[k].index].name, std::strerror(errno)));
            const Running done = running[k];
            running.erase(running.begin() + std::ptrdiff_t(k));
            reaped = true;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                finished(done.index, std::chrono::duration<double>(Clock::now() - done.started).count());
            } else if (!failed) {
                // The first failure is the one reported; the others are stopped, not waited out.
                failed = done.index;
                failed_status = status;
                for (const Running &r : running) kill(r.pid, SIGKILL);
            }
        }
        if (!reaped && !running.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (failed) rethrow_child_error(jobs[*failed], failed_status, error_file(*failed));
}

}  // namespace cnngen
