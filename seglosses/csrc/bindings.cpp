// The one binding file of the private extension module seglosses._core.
// Each engine part declares a bind_* function in its own folder and is registered here.
#include <nanobind/nanobind.h>

namespace nb = nanobind;

void bind_persistence(nb::module_&);
void bind_matching(nb::module_&);
void bind_warping(nb::module_&);
void bind_gpu_emulation(nb::module_&);

NB_MODULE(_core, m) {
  m.doc() = "seglosses compiled core (private; use seglosses.topology)";
  bind_persistence(m);
  bind_matching(m);
  bind_warping(m);
  bind_gpu_emulation(m);
}
