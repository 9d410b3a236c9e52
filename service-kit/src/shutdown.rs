//! Waiting for the signal to stop: Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
//! [`stop_on_signal`] returns, so a signal that arrives right after start-up (say, as soon as the
//! banner is printed) stops the process gracefully rather than killing it.

use std::future::Future;

/// Resolves when the process is asked to stop.
pub async fn signal() {
    listen().await
}

/// Installs the handlers now and returns a future that resolves on the first signal.
fn listen() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            match streams {
                (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                    _ = interrupt.recv() => tracing::info!("Ctrl-C received, shutting down"),
                    _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
                },
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "cannot listen for Ctrl-C or SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C received, shutting down");
    }
}

/// Stops every server (gracefully, in order) when the process is asked to stop.
pub fn stop_on_signal(handles: Vec<actix_web::dev::ServerHandle>) {
    stop_on_signal_after(|| {}, handles);
}

/// Like [`stop_on_signal`], running `first` before the servers stop (to end long-lived
/// responses, such as event streams, that a graceful stop would otherwise wait for).
pub fn stop_on_signal_after(
    first: impl FnOnce() + Send + 'static,
    handles: Vec<actix_web::dev::ServerHandle>,
) {
    let stop = listen();
    tokio::spawn(async move {
        stop.await;
        first();
        for handle in handles {
            handle.stop(true).await;
        }
    });
}
