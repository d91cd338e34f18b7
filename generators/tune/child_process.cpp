#include "child_process.h"

#include <csignal>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <pthread.h>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace cnngen {

namespace {

std::mutex running_mutex;
std::set<pid_t> running;  // process groups to stop if the tune is interrupted

extern "C" void stop_children_and_exit(int signal) {
    for (pid_t group : running) kill(-group, SIGKILL);  // not locked: the signal may interrupt a holder
    _exit(128 + signal);
}

void install_handlers_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        std::signal(SIGINT, stop_children_and_exit);
        std::signal(SIGTERM, stop_children_and_exit);
    });
}

}  // namespace

// SIGINT and SIGTERM held back while `running` changes: the handler walks it, and a child
// forked but not yet recorded would outlive an interrupted tune.
struct SignalsBlocked {
    sigset_t previous;
    SignalsBlocked() {
        sigset_t blocked;
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGINT);
        sigaddset(&blocked, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    }
    ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous, nullptr); }
};

ChildProcess start_command(const std::string &command, const std::string &log, double limit_seconds) {
    install_handlers_once();
    ChildProcess child;
    child.started = std::chrono::steady_clock::now();
    child.limit_seconds = limit_seconds;
    std::lock_guard<std::mutex> lock(running_mutex);
    SignalsBlocked blocked;
    child.pid = fork();
    if (child.pid == 0) {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        pthread_sigmask(SIG_SETMASK, &blocked.previous, nullptr);
        setpgid(0, 0);
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    if (child.pid > 0) {
        setpgid(child.pid, child.pid);  // also here: no race with the child's own call
        running.insert(child.pid);
    }
    return child;
}

int poll_command(ChildProcess &child) {
    if (child.pid <= 0) return 127;
    int status = 0;
    const pid_t done = waitpid(child.pid, &status, WNOHANG);
    if (done == child.pid) {
        std::lock_guard<std::mutex> lock(running_mutex);
        SignalsBlocked blocked;
        running.erase(child.pid);
        kill(-child.pid, SIGKILL);  // anything it left running in its group
        child.pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - child.started).count();
    if (elapsed > child.limit_seconds) {
        kill(-child.pid, SIGKILL);
        waitpid(child.pid, &status, 0);
        std::lock_guard<std::mutex> lock(running_mutex);
        SignalsBlocked blocked;
        running.erase(child.pid);
        child.pid = -1;
        return kTimedOut;
    }
    return -1;
}

int wait_command(ChildProcess &child) {
    for (;;) {
        const int status = poll_command(child);
        if (status != -1) return status;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string log_tail(const std::string &log, int count) {
    std::ifstream in(log);
    std::deque<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        lines.push_back(line);
        if (int(lines.size()) > count) lines.pop_front();
    }
    std::string joined;
    for (const std::string &line : lines) joined += (joined.empty() ? "" : " | ") + line;
    return joined;
}

std::string shell_quoted(const std::string &text) {
    std::string out = "'";
    for (char ch : text) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return out + "'";
}

}  // namespace cnngen
