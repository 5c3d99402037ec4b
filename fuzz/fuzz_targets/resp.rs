//! The RESP reader, as a hostile server would feed it: any bytes, under a
//! small reply bound. It must answer a value or an error, within the bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidewatch_redis_client::resp;

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
}

fuzz_target!(|data: &[u8]| {
    RT.with(|rt| {
        rt.block_on(async {
            let mut input = data;
            // Several replies back to back, as a pipeline reads them.
            for _ in 0..4 {
                if resp::read_value_limited(&mut input, 4096).await.is_err() {
                    break;
                }
            }
        })
    });
});
