/* tick's markers with semaphores (see tick.c). */
#ifndef TICK_SEM_H
#define TICK_SEM_H

/* unsigned short in section .probes, as `dtrace -G` defines them. */
extern unsigned short tick_loop2_semaphore;
extern unsigned short tick_loop3_semaphore;

#define TICK_LOOP2_ENABLED() __builtin_expect(tick_loop2_semaphore, 0)
#define TICK_LOOP3_ENABLED() __builtin_expect(tick_loop3_semaphore, 0)

void tick_loop2(int i);
void tick_loop3(int i);

#endif
