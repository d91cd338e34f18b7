#pragma once
// A tensor a model keeps from call to call (a parameter, a velocity, a call's images or
// activations) and the one halide_buffer_t every generated function that uses it is given.
// On GPU libraries that buffer also carries the device copy: Halide uploads on use what the
// host side marked changed, kernels leave their results on the device, and the host copy is
// brought back only when someone reads it. Device memory stays until release_device().
#include "call_context.h"

#include "cnngen/error.h"

#include <HalideBuffer.h>
#include <fmt/ranges.h>

#include <new>
#include <vector>

namespace cnngen {

// Host memory on kHostAlignment boundaries: generated code may use aligned vector loads on
// buffers it believes aligned (a profiled training step did, on a parameter).
template <typename T>
struct HostAllocator {
    using value_type = T;
    HostAllocator() = default;
    template <typename U>
    HostAllocator(const HostAllocator<U> &) {}
    T *allocate(std::size_t count) {
        return static_cast<T *>(::operator new(count * sizeof(T), std::align_val_t(kHostAlignment)));
    }
    void deallocate(T *p, std::size_t) { ::operator delete(p, std::align_val_t(kHostAlignment)); }
    template <typename U>
    bool operator==(const HostAllocator<U> &) const { return true; }
    template <typename U>
    bool operator!=(const HostAllocator<U> &) const { return false; }
};

template <typename T>
using HostVector = std::vector<T, HostAllocator<T>>;

template <typename T>
class ResidentBuffer {
public:
    ResidentBuffer() = default;
    // PyTorch order; zero-filled. `allocate` false: shape only, no memory (state a library
    // without a training step never uses).
    explicit ResidentBuffer(std::vector<int> shape, bool allocate = true) : shape_(std::move(shape)) {
        if (!allocate) return;
        size_t count = 1;
        for (int e : shape_) count *= size_t(e);
        data_.assign(count, T(0));
        const std::vector<int> sizes(shape_.rbegin(), shape_.rend());  // Halide's order: innermost first
        buffer_ = Halide::Runtime::Buffer<T>(data_.data(), sizes);
    }
    ResidentBuffer(ResidentBuffer &&) = default;  // the vector's storage, and so the buffer's host, moves along
    // Would free the target's device memory with no user context, where a failure aborts.
    ResidentBuffer &operator=(ResidentBuffer &&) = delete;

    const std::vector<int> &shape() const { return shape_; }
    size_t host_bytes() const { return data_.size() * sizeof(T); }  // 0 when not allocated

    // For a call: what Halide reads or writes.
    halide_buffer_t *bind() { return buffer_.raw_buffer(); }

    // The host data, current: device results are copied back first.
    const HostVector<T> &read(CallContext &context) {
        if (buffer_.device_dirty() && buffer_.copy_to_host(context.user_context()) != 0)
            runtime_fail("copying a tensor of shape ({}) back from the device failed: {}", fmt::join(shape_, ", "),
                         context.error());
        return data_;
    }
    // The host data for the caller to replace entirely (what the device holds is dropped, not
    // copied back); the next call uploads it.
    HostVector<T> &overwrite() {
        buffer_.set_device_dirty(false);
        buffer_.set_host_dirty();
        return data_;
    }
    // Frees the device copy, dropping what it holds. Errors go to the context, not thrown:
    // this runs from destructors.
    void release_device(CallContext &context) {
        if (buffer_.raw_buffer() && buffer_.raw_buffer()->device) buffer_.device_free(context.user_context());
    }

private:
    std::vector<int> shape_;
    HostVector<T> data_;
    Halide::Runtime::Buffer<T> buffer_;
};

}  // namespace cnngen
