// train.c — `pgrpo train DECK`: prolog, loop, epilog (the stages are in src/run/trainer.c).
#include "app.h"
#include "guards.h"
#include "trainer.h"

int cmd_train(App *a) {
    // From here on a preemption signal means "finish the step, checkpoint, exit 75", never a lost run; a second
    // SIGTERM/SIGINT ends the process at once.
    guards_install_signals();
    Trainer *t = trainer_create(a);
    int rc = trainer_run(t);
    return trainer_finish(t, rc);
}
