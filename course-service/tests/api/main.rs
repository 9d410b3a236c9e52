//! course-service tests over real HTTP (and, for the model test, against the inventory directly).

mod auth;
mod batching;
mod burst;
mod concurrency;
mod courses;
mod disk;
mod events;
mod expiry;
mod fuzz;
mod helpers;
mod live;
mod model;
mod openapi;
mod plumbing;
mod reservations;
mod waitlist;
